'use strict';
// What OpenTelemetry JS writes into and reads from `traceparent`/`tracestate` (its W3C propagator
// in @opentelemetry/core); see lib/propagation.js. No exporter: spans stay in the process.
const api = require('@opentelemetry/api');
const { W3CTraceContextPropagator } = require('@opentelemetry/core');
const {
  NodeTracerProvider, AlwaysOnSampler, AlwaysOffSampler, ParentBasedSampler,
} = require('@opentelemetry/sdk-trace-node');
const { version } = require('@opentelemetry/core/package.json');
const { makeCase, kisekiCases, main } = require('./lib/propagation');

const propagator = new W3CTraceContextPropagator();

function injected(span, parentSpanId, name, description) {
  const context = span.spanContext();
  const headers = {};
  propagator.inject(api.trace.setSpan(api.ROOT_CONTEXT, span), headers, api.defaultTextMapSetter);
  const facts = {
    trace_id: context.traceId,
    span_id: context.spanId,
    parent_span_id: parentSpanId,
    sampled: (context.traceFlags & api.TraceFlags.SAMPLED) === api.TraceFlags.SAMPLED,
    trace_state: context.traceState ? context.traceState.serialize() : '',
  };
  return makeCase(name, description, facts, headers);
}

function headers() {
  const tracerWith = (sampler) => new NodeTracerProvider({ sampler }).getTracer('kiseki-interop');
  const sampled = tracerWith(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
  const dropped = tracerWith(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
  const cases = [];
  const root = sampled.startSpan('web.request');
  const child = sampled.startSpan('http.client', {}, api.trace.setSpan(api.ROOT_CONTEXT, root));
  cases.push(injected(child, root.spanContext().spanId, 'sampled-child', 'a child of a new sampled root'));
  cases.push(injected(dropped.startSpan('web.request'), null, 'not-sampled-root', 'a root the sampler dropped'));
  const incoming = {
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
  };
  const parent = propagator.extract(api.ROOT_CONTEXT, incoming, api.defaultTextMapGetter);
  cases.push(injected(sampled.startSpan('web.request', {}, parent), 'b7ad6b7169203331',
    'continued-from-w3c', `a span continuing ${JSON.stringify(incoming)}`));
  return cases;
}

function read(path) {
  return kisekiCases(path).map(([name, headers]) => {
    const context = api.trace.getSpanContext(
      propagator.extract(api.ROOT_CONTEXT, headers, api.defaultTextMapGetter));
    return { name, read: { tracecontext: describe(context) } };
  });
}

function describe(context) {
  if (!context || !api.isSpanContextValid(context)) return null;
  return {
    trace_id: context.traceId,
    span_id: context.spanId,
    sampled: (context.traceFlags & api.TraceFlags.SAMPLED) === api.TraceFlags.SAMPLED,
    trace_flags: context.traceFlags,
    tracestate: context.traceState ? context.traceState.serialize() || null : null,
  };
}

main(`@opentelemetry/core ${version} (Node.js)`, headers, read);
