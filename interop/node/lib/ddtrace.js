'use strict';
// The traces every dd-trace emitter sends, through dd-trace's own API; the emitters differ only in
// the agent protocol settings they pass.
const { HOST, PORTS, report, clock } = require('./common');

class PaymentDeclinedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PaymentDeclinedError';
  }
}

function run(emitter, options = {}) {
  const SERVICE = `node-${emitter}`;
  // 128-bit trace ids (the high half travels as meta _dd.p.tid).
  process.env.DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED ??= 'true';
  // Otherwise the commit of the enclosing git checkout is sent as meta _dd.git.commit.sha.
  process.env.DD_TRACE_GIT_METADATA_ENABLED ??= 'false';
  const tracer = require('dd-trace').init({
    service: SERVICE,
    env: 'interop',
    version: '1.4.2',
    hostname: HOST,
    port: PORTS.datadog,
    plugins: false,
    startupLogs: false,
    tags: { 'host.name': 'interop-host', team: 'interop' },
    ...options,
  });

  const at = clock();
  const records = [];
  function start(name, tags, parent, startMs) {
    const span = tracer.startSpan(name, { childOf: parent || null, tags, startTime: at(startMs) });
    records.push({ span, name, parent });
    return span;
  }

  // Trace 1: a web request with a database query, an HTTP call that fails, and a message published.
  const root = start('web.request', {
    'resource.name': 'GET /checkout',
    'span.type': 'web',
    'span.kind': 'server',
    'http.method': 'GET',
    'http.url': 'https://shop.example/checkout',
    'http.route': '/checkout',
    'http.status_code': '200',
    'app.cart.total': 42.5,
    'app.cart.items': 3,
    'app.cart.empty': false,
    'app.customer': 'Zoë Ünïcode 東京 🚀',
    'manual.keep': true,
  }, null, 0);
  root.addEvent('cache.miss', { 'cache.key': 'cart:42', 'cache.attempt': 1, 'cache.cold': true }, at(5));

  const render = start('render.cart', { 'resource.name': 'cart.html', 'span.kind': 'internal', 'app.items_rendered': 3 }, root, 10);
  render.finish(at(30));

  const db = start('postgres.query', {
    service: `${SERVICE}-postgres`,
    'resource.name': 'SELECT id, total FROM orders WHERE customer_id = $1',
    'span.type': 'sql',
    'span.kind': 'client',
    'db.type': 'postgres',
    'db.name': 'shop',
    'out.host': 'db.internal',
    'network.destination.port': 5432,
    'db.row_count': 2,
  }, root, 35);
  db.finish(at(55));

  const payment = start('http.request', {
    'resource.name': 'POST /payments',
    'span.type': 'http',
    'span.kind': 'client',
    'http.method': 'POST',
    'http.url': 'https://payments.internal:8443/payments?order=42',
    'http.status_code': '402',
    'out.host': 'payments.internal',
    'peer.service': 'payments',
  }, root, 60);
  const charge = start('charge.card', { 'resource.name': 'charge card', 'app.amount': 42.5 }, payment, 62);
  const err = new PaymentDeclinedError('card declined: insufficient funds');
  charge.setTag('error', err);
  charge.finish(at(72));
  payment.setTag('error', true);
  payment.finish(at(80));

  const publish = start('kafka.produce', {
    'resource.name': 'orders',
    'span.type': 'worker',
    'span.kind': 'producer',
    'messaging.system': 'kafka',
    'messaging.destination.name': 'orders',
  }, root, 85);
  publish.finish(at(90));
  root.finish(at(100));

  // Trace 2: the consumer, in its own trace, linked to the producer span.
  const consume = start('kafka.consume', {
    'resource.name': 'orders',
    'span.type': 'worker',
    'span.kind': 'consumer',
    'messaging.system': 'kafka',
    'messaging.destination.name': 'orders',
  }, null, 200);
  consume.addLink({ context: publish.context(), attributes: { 'link.reason': 'message' } });
  const store = start('store.invoice', { 'resource.name': 'store invoice', 'app.invoice.pages': 2 }, consume, 210);
  store.finish(at(240));
  consume.finish(at(250));

  function isError(span) {
    const tags = span.context().getTags();
    return tags.error === true || tags.error === 1 || tags.error === '1' || tags.error instanceof Error
      || 'error.message' in tags || 'error.type' in tags;
  }

  const out = records.map(({ span, name, parent }) => ({
    trace_id: span.context().toTraceId(true),
    span_id: span.context().toSpanId(true),
    parent_span_id: parent ? parent.context().toSpanId(true) : null,
    name,
    service: span.context().getTags().service || SERVICE,
    error: isError(span),
  }));

  // dd-trace has no public flush: its exporter sends every flushInterval and before the process
  // exits, which is what happens here.
  report(emitter, out);
}

module.exports = { run };
