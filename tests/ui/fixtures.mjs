// Known traces for the browser tests, as OTLP JSON: one with a clock-skewed child, errors, events
// and a link; the trace it links to; and one of exactly 10 000 spans. The ids and names are
// fixed so the tests know what to look for; timestamps are relative to when they are built.

export const SKEW_TRACE = 'e2e5ce0000000000000000000000a001';
export const LINKED_TRACE = 'e2e5ce0000000000000000000000a002';
export const BIG_TRACE = 'e2e5ce0000000000000000000000b10c';
export const MISSING_TRACE = 'e2e5ce00000000000000000000000404';

export const SPANS = {
  root: 'a000000000000001',
  client: 'a000000000000002',
  skewed: 'a000000000000003',
  query: 'a000000000000004',
  render: 'a000000000000005',
  worker: 'b000000000000001',
};

export const BIG_SPAN_COUNT = 10_000;
export const BIG_LAST_SPAN_NAME = 'the last call';

const MS = 1_000_000n;
const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

function attributes(map) {
  return Object.entries(map).map(([key, value]) => {
    if (typeof value === 'number' && Number.isInteger(value)) return { key, value: { intValue: String(value) } };
    if (typeof value === 'number') return { key, value: { doubleValue: value } };
    if (typeof value === 'boolean') return { key, value: { boolValue: value } };
    return { key, value: { stringValue: String(value) } };
  });
}

function span({ traceId, spanId, parent, name, kind, start, end, attrs = {}, error, events = [], links = [] }) {
  return {
    traceId,
    spanId,
    parentSpanId: parent ?? '',
    name,
    kind: KIND[kind],
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(end),
    attributes: attributes(attrs),
    events: events.map((event) => ({ timeUnixNano: String(event.time), name: event.name, attributes: attributes(event.attrs ?? {}) })),
    links: links.map((link) => ({ traceId: link.traceId, spanId: link.spanId, attributes: attributes(link.attrs ?? {}) })),
    status: error ? { code: 2, message: error } : { code: 0 },
  };
}

function resourceSpans(service, spans, extra = {}) {
  return {
    resource: { attributes: attributes({ 'service.name': service, 'service.version': '1.4.2', ...extra }) },
    scopeSpans: [{ scope: { name: 'kiseki-ui-tests', version: '1.0.0' }, spans }],
  };
}

/** The skewed trace and the trace it links to, starting `agoMs` before now. */
export function smallTraces(agoMs = 120_000) {
  const t = BigInt(Date.now() - agoMs) * MS;
  const gateway = [
    span({
      traceId: SKEW_TRACE, spanId: SPANS.root, name: 'GET /orders/{id}', kind: 'server', start: t, end: t + 120n * MS,
      attrs: { 'http.request.method': 'GET', 'http.route': '/orders/{id}', 'http.response.status_code': 500, 'ui.test.marker': 'e2e' },
      error: 'inventory failed',
      events: [{ time: t + 5n * MS, name: 'cache miss', attrs: { 'cache.key': 'order:42' } }],
    }),
    span({
      traceId: SKEW_TRACE, spanId: SPANS.client, parent: SPANS.root, name: 'GET inventory', kind: 'client',
      start: t + 10n * MS, end: t + 100n * MS,
      attrs: { 'http.request.method': 'GET', 'server.address': 'inventory', 'http.response.status_code': 503 },
      error: 'upstream answered 503',
    }),
    span({
      traceId: SKEW_TRACE, spanId: SPANS.render, parent: SPANS.root, name: 'render error page', kind: 'internal',
      start: t + 102n * MS, end: t + 118n * MS, attrs: { 'template.name': 'error.html' },
    }),
  ];
  // The inventory's clock is 60 ms behind: its server span starts before the client span that called it.
  const skewedStart = t + 10n * MS - 60n * MS;
  const inventory = [
    span({
      traceId: SKEW_TRACE, spanId: SPANS.skewed, parent: SPANS.client, name: 'GET /stock/{sku}', kind: 'server',
      start: skewedStart, end: skewedStart + 40n * MS,
      attrs: { 'http.request.method': 'GET', 'http.route': '/stock/{sku}', 'stock.sku': 'SKU-4242', 'http.response.status_code': 503 },
      error: 'stock service unavailable',
      events: [{
        time: skewedStart + 30n * MS, name: 'exception',
        attrs: {
          'exception.type': 'StockUnavailable',
          'exception.message': 'stock service unavailable',
          'exception.stacktrace': 'StockUnavailable: stock service unavailable\n    at check (stock.js:12)\n    at handle (server.js:40)',
        },
      }],
      links: [{ traceId: LINKED_TRACE, spanId: SPANS.worker, attrs: { 'link.reason': 'restock requested' } }],
    }),
    span({
      traceId: SKEW_TRACE, spanId: SPANS.query, parent: SPANS.skewed, name: 'SELECT stock', kind: 'client',
      start: skewedStart + 5n * MS, end: skewedStart + 25n * MS,
      attrs: { 'db.system': 'postgresql', 'db.query.text': 'SELECT qty FROM stock WHERE sku = $1' },
    }),
  ];
  const worker = [
    span({
      traceId: LINKED_TRACE, spanId: SPANS.worker, name: 'restock process', kind: 'consumer',
      start: t + 200n * MS, end: t + 260n * MS, attrs: { 'messaging.system': 'kafka', 'messaging.destination.name': 'restock' },
      links: [{ traceId: SKEW_TRACE, spanId: SPANS.skewed }],
    }),
  ];
  return {
    resourceSpans: [
      resourceSpans('ui-gateway', gateway),
      resourceSpans('ui-inventory', inventory),
      resourceSpans('ui-worker', worker),
    ],
  };
}

const BIG_SERVICES = ['big-frontend', 'big-orders', 'big-payments', 'big-stock', 'big-search', 'big-users', 'big-mail', 'big-media'];

/**
 * One trace of exactly {@link BIG_SPAN_COUNT} spans: a root, 99 steps of 100 calls each, the
 * last of them named {@link BIG_LAST_SPAN_NAME}.
 */
export function bigTrace(agoMs = 90_000) {
  const t = BigInt(Date.now() - agoMs) * MS;
  const hex = (n) => n.toString(16).padStart(16, '0');
  const byService = new Map(BIG_SERVICES.map((service) => [service, []]));
  const root = hex(1);
  const steps = 99;
  const callsPerStep = 100;
  const stepLength = 20n * MS;
  byService.get('big-frontend').push(span({
    traceId: BIG_TRACE, spanId: root, name: 'GET /big', kind: 'server', start: t, end: t + BigInt(steps) * stepLength + MS,
    attrs: { 'http.route': '/big' },
  }));
  let next = 2;
  for (let step = 0; step < steps; step++) {
    const service = BIG_SERVICES[1 + (step % (BIG_SERVICES.length - 1))];
    const stepId = hex(next++);
    const stepStart = t + BigInt(step) * stepLength;
    byService.get(service).push(span({
      traceId: BIG_TRACE, spanId: stepId, parent: root, name: `step ${step}`, kind: 'server',
      start: stepStart, end: stepStart + stepLength - MS / 2n,
    }));
    for (let call = 0; call < callsPerStep; call++) {
      const callStart = stepStart + BigInt(call) * (stepLength / BigInt(callsPerStep));
      const failed = (step * callsPerStep + call) % 997 === 0;
      byService.get(service).push(span({
        traceId: BIG_TRACE, spanId: hex(next++), parent: stepId,
        name: step === steps - 1 && call === callsPerStep - 1 ? BIG_LAST_SPAN_NAME : `call ${String(call).padStart(2, '0')}`,
        kind: 'client',
        start: callStart, end: callStart + 150_000n, attrs: { 'call.index': call },
        error: failed ? 'call failed' : undefined,
      }));
    }
  }
  if (next - 1 !== BIG_SPAN_COUNT) throw new Error(`big trace has ${next - 1} spans`);
  return { resourceSpans: [...byService].map(([service, spans]) => resourceSpans(service, spans)) };
}
