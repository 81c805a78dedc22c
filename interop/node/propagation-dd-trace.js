'use strict';
// What dd-trace (Node.js) writes into and reads from propagation headers; see lib/propagation.js.
// Styles: datadog, tracecontext, b3multi and "b3 single header". `read` takes a third argument,
// the one style to extract with (dd-trace reads its styles from the environment at start).
// Spans are never sent: the agent port is closed and the process exits before a flush.
const [, , mode, file, style] = process.argv;
const all = 'datadog,tracecontext,b3multi,b3 single header';
process.env.DD_TRACE_PROPAGATION_STYLE_INJECT = all;
process.env.DD_TRACE_PROPAGATION_STYLE_EXTRACT = mode === 'read' ? style : all;
process.env.DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED = 'true';
process.env.DD_TRACE_GIT_METADATA_ENABLED = 'false';
process.env.DD_INSTRUMENTATION_TELEMETRY_ENABLED = 'false';
process.env.DD_REMOTE_CONFIGURATION_ENABLED = 'false';
const tracer = require('dd-trace').init({
  service: 'shop-api', port: 9, plugins: false, startupLogs: false, flushInterval: 3600000,
});
const { version } = require('dd-trace/package.json');
const { makeCase, kisekiCases, main } = require('./lib/propagation');

function injected(span, name, description) {
  const headers = {};
  tracer.inject(span, 'http_headers', headers);
  const context = span.context();
  const trace = context._trace;
  const tags = {};
  for (const [k, v] of Object.entries(trace.tags)) {
    if (k.startsWith('_dd.p.') && k !== '_dd.p.tid') tags[k] = String(v);
  }
  const facts = {
    trace_id: context.toTraceId(true),
    span_id: context.toSpanId(true),
    parent_span_id: context._parentId ? context._parentId.toString(16).padStart(16, '0') : null,
    sampling_priority: context._sampling.priority ?? null,
    origin: trace.origin ?? null,
    tags,
  };
  return makeCase(name, description, facts, headers);
}

function headers() {
  const cases = [];
  let root = tracer.startSpan('web.request');
  cases.push(injected(tracer.startSpan('http.client', { childOf: root }), 'auto-keep',
    'a child of a new root, default sampler'));
  root = tracer.startSpan('web.request', { tags: { 'manual.keep': true } });
  root.context()._trace.origin = 'synthetics';
  cases.push(injected(tracer.startSpan('http.client', { childOf: root }), 'manual-keep-synthetics',
    'manual.keep and an origin'));
  root = tracer.startSpan('web.request', { tags: { 'manual.drop': true } });
  cases.push(injected(root, 'manual-drop', 'manual.drop on the root'));
  const incoming = {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
  };
  const parent = tracer.extract('http_headers', incoming);
  cases.push(injected(tracer.startSpan('web.request', { childOf: parent }), 'continued-from-w3c',
    `a span continuing ${JSON.stringify(incoming)}`));
  return cases;
}

function read(path) {
  return kisekiCases(path).map(([name, headers]) => {
    const context = tracer.extract('http_headers', headers);
    return { name, read: { [style]: describe(context) } };
  });
}

function describe(context) {
  if (!context || !context._traceId || !context._spanId) return null;
  const trace = context._trace;
  const tags = {};
  for (const [k, v] of Object.entries(trace.tags).sort()) {
    if (k.startsWith('_dd.p.')) tags[k] = String(v);
  }
  return {
    trace_id: context.toTraceId(true),
    span_id: context.toSpanId(true),
    sampling_priority: context._sampling.priority ?? null,
    origin: trace.origin ?? null,
    tags,
    last_parent_id: trace.tags['_dd.parent_id'] ?? null,
    tracestate: context._tracestate ? context._tracestate.toString() || null : null,
  };
}

main(`dd-trace ${version} (Node.js)`, headers, read).then(() => process.exit(0));
