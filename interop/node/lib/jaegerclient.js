'use strict';
// The traces every jaeger-client emitter sends, through the OpenTracing API; only the reporter's
// sender differs.

const { initTracer } = require('jaeger-client');
const opentracing = require('opentracing');
const { report, clock } = require('./common');

class PaymentDeclinedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PaymentDeclinedError';
  }
}

// Logs every warning and error of the client on stderr.
const logger = {
  info: () => {},
  error: (msg) => process.stderr.write(`jaeger-client: ${msg}\n`),
};

async function run(emitter, reporter) {
  const service = `node-${emitter}`;
  const tracer = initTracer(
    {
      serviceName: service,
      sampler: { type: 'const', param: 1 },
      reporter: { ...reporter, flushIntervalMs: 60000, logSpans: false },
    },
    {
      logger,
      traceId128bit: true,
      tags: {
        'service.version': '1.4.2',
        'deployment.environment': 'interop',
        'host.name': 'interop-host',
      },
    },
  );

  const at = clock();
  const records = [];
  const start = (name, options, parent, startMs) => {
    const span = tracer.startSpan(name, { ...options, childOf: parent || undefined, startTime: at(startMs) });
    records.push({ span, name });
    return span;
  };

  // A 128-bit trace: a server span with a database call, a failing HTTP call, a message published.
  const root = start('GET /checkout', {
    tags: {
      'span.kind': 'server',
      'http.method': 'GET',
      'http.url': 'https://shop.example/checkout',
      'http.status_code': 200,
      'app.cart.total': 42.5,
      'app.cart.items': 3,
      'app.cart.empty': false,
      'app.customer': 'Zoë Ünïcode 東京 🚀',
      'app.tags': ['new', 'mobile'],
    },
  }, null, 0);
  root.log({ event: 'cache.miss', 'cache.key': 'cart:42', 'cache.attempt': 1, 'cache.cold': true }, at(5));

  const render = start('render cart', { tags: { 'app.template': 'cart.html' } }, root, 10);
  render.finish(at(30));

  const db = start('SELECT shop.orders', {
    tags: {
      'span.kind': 'client',
      'db.type': 'sql',
      'db.instance': 'shop',
      'db.statement': 'SELECT id, total FROM orders WHERE customer_id = $1',
      'peer.service': 'postgresql',
      'peer.hostname': 'db.internal',
      'peer.port': 5432,
    },
  }, root, 35);
  db.finish(at(55));

  const payment = start('POST /payments', {
    tags: {
      'span.kind': 'client',
      'http.method': 'POST',
      'http.url': 'https://payments.internal:8443/payments?order=42',
      'http.status_code': 402,
      'peer.service': 'payments',
      'peer.ipv4': '10.0.0.7',
      'peer.port': 8443,
      error: true,
    },
  }, root, 60);
  const charge = start('charge card', { tags: { 'app.amount': 42.5 } }, payment, 62);
  const err = new PaymentDeclinedError('card declined: insufficient funds');
  charge.setTag(opentracing.Tags.ERROR, true);
  charge.log({ event: 'error', 'error.kind': err.name, 'error.object': err, message: err.message, stack: err.stack }, at(70));
  charge.finish(at(72));
  payment.finish(at(80));

  const publish = start('orders publish', {
    tags: { 'span.kind': 'producer', 'message_bus.destination': 'orders', 'peer.service': 'kafka' },
  }, root, 85);
  publish.finish(at(90));
  root.finish(at(100));

  // The consumer, with a FOLLOWS_FROM reference to the producer span. jaeger-client makes a span
  // whose only reference is FOLLOWS_FROM a child of the referenced span, so this stays in trace 1.
  const consume = start('orders process', {
    tags: { 'span.kind': 'consumer', 'message_bus.destination': 'orders' },
    references: [opentracing.followsFrom(publish.context())],
  }, null, 200);
  const store = start('store invoice', { tags: { 'app.invoice.pages': 2 } }, consume, 210);
  store.finish(at(240));
  consume.finish(at(250));

  await new Promise((resolve) => tracer.close(resolve));

  const hex = (buf) => (buf ? Buffer.from(buf).toString('hex') : null);
  report(emitter, records.map(({ span, name }) => {
    const ctx = span.context();
    return {
      trace_id: hex(ctx.traceId),
      span_id: hex(ctx.spanId),
      // A span whose only reference is FOLLOWS_FROM becomes that span's child, in its trace.
      parent_span_id: ctx.parentId && Buffer.from(ctx.parentId).some((b) => b !== 0) ? hex(ctx.parentId) : null,
      name,
      service: service,
      error: span._tags.some((t) => t.key === 'error' && t.value === true),
    };
  }));
}

module.exports = { run };
