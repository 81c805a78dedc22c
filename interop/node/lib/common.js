'use strict';
// Shared helpers for the emitters: where kiseki listens, and the one JSON line each emitter prints.

const HOST = process.env.KISEKI_HOST || '127.0.0.1';

const PORTS = {
  otlpHttp: 4318,
  otlpGrpc: 4317,
  zipkin: 9411,
  jaegerHttp: 14268,
  jaegerCompact: 6831,
  jaegerBinary: 6832,
  datadog: 8126,
};

// Trace ids are reported as 32 lowercase hex characters, 64-bit ids left-padded with zeros.
function traceHex(id) {
  return String(id).toLowerCase().padStart(32, '0');
}

function spanHex(id) {
  return String(id).toLowerCase().padStart(16, '0');
}

// Groups span records ({trace_id, span_id, parent_span_id, name, service, error}) by trace, in the
// order the traces were first seen, and prints the emitter's single line on stdout.
function report(emitter, spans) {
  const traces = [];
  const byId = new Map();
  for (const s of spans) {
    const traceId = traceHex(s.trace_id);
    let trace = byId.get(traceId);
    if (!trace) {
      trace = { trace_id: traceId, spans: [] };
      byId.set(traceId, trace);
      traces.push(trace);
    }
    trace.spans.push({
      span_id: spanHex(s.span_id),
      parent_span_id: s.parent_span_id ? spanHex(s.parent_span_id) : null,
      name: s.name,
      service: s.service,
      error: Boolean(s.error),
    });
  }
  process.stdout.write(JSON.stringify({ emitter, traces }) + '\n');
}

// Timestamps relative to one base so children nest inside their parents.
function clock() {
  const base = Date.now() - 1000;
  return (offsetMs) => base + offsetMs;
}

module.exports = { HOST, PORTS, traceHex, spanHex, report, clock };

// A failed export rejects a promise somewhere inside the library: say so and exit non-zero.
process.on('unhandledRejection', (reason) => {
  const detail = Array.isArray(reason) ? reason.map(String).join('; ') : (reason && reason.stack) || String(reason);
  process.stderr.write(`emitter failed: ${detail}\n`);
  process.exit(1);
});
