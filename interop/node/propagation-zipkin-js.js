'use strict';
// What zipkin-js writes into and reads from B3 headers (X-B3-* only: it has no single-header
// support); see lib/propagation.js. Spans go to a recorder that drops them.
const {
  Tracer, ExplicitContext, Instrumentation, sampler, option,
} = require('zipkin');
const { version } = require('zipkin/package.json');
const { makeCase, kisekiCases, main } = require('./lib/propagation');

const dropped = { record() {} };
const hex16 = (id) => id.padStart(16, '0');

function tracerWith(sample, traceId128Bit = true) {
  return new Tracer({
    ctxImpl: new ExplicitContext(),
    recorder: dropped,
    sampler: new sampler.Sampler(() => sample),
    traceId128Bit,
    localServiceName: 'shop-api',
  });
}

function injected(tracer, rootId, name, description) {
  return tracer.letId(rootId, () => {
    const client = new Instrumentation.HttpClient({ tracer, remoteServiceName: 'payments' });
    const request = client.recordRequest({ headers: {} }, 'http://payments/charge', 'POST');
    const id = tracer.id;
    const facts = {
      trace_id: id.traceId.padStart(32, '0'),
      span_id: hex16(id.spanId),
      parent_span_id: id.parentSpanId.map(hex16).getOrElse(null),
      sampled: id.sampled.getOrElse(null),
      debug: id.isDebug(),
    };
    return makeCase(name, description, facts, request.headers);
  });
}

function headers() {
  const sampled = tracerWith(true);
  const notSampled = tracerWith(false, false);
  return [
    injected(sampled, sampled.createRootId(), 'sampled-child',
      'a client span under a sampled root, 128-bit trace id'),
    injected(notSampled, notSampled.createRootId(), 'not-sampled-child',
      'a client span under a root the sampler dropped, 64-bit trace id'),
    injected(sampled, sampled.createRootId(option.None, true), 'debug-child',
      'a client span under a debug root'),
  ];
}

function read(path) {
  const tracer = tracerWith(false);
  const server = new Instrumentation.HttpServer({ tracer, port: 8080 });
  return kisekiCases(path).map(([name, headers]) => {
    const readHeader = (header) => {
      const value = headers[header.toLowerCase()];
      return value === undefined ? option.None : new option.Some(value);
    };
    const present = Object.keys(headers).some((h) => h.startsWith('x-b3-'));
    const id = server._createIdFromHeaders(readHeader).getOrElse(null);
    const described = present && id ? {
      trace_id: id.traceId.padStart(32, '0'),
      span_id: hex16(id.spanId),
      parent_span_id: id.parentSpanId.map(hex16).getOrElse(null),
      sampled: id.sampled.getOrElse(null),
      debug: id.isDebug(),
    } : null;
    return { name, read: { b3multi: described } };
  });
}

main(`zipkin-js ${version}`, headers, read);
