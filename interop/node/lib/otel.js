'use strict';
// The trace every OpenTelemetry emitter sends: the same application code, only the exporter differs.

const api = require('@opentelemetry/api');
const { NodeTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-node');
const { defaultResource, resourceFromAttributes } = require('@opentelemetry/resources');
const { report, clock } = require('./common');

const { SpanKind, SpanStatusCode, ROOT_CONTEXT } = api;

class PaymentDeclinedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PaymentDeclinedError';
  }
}

function makeProvider(serviceName, exporter) {
  const resource = defaultResource().merge(
    resourceFromAttributes({
      'service.name': serviceName,
      'service.version': '1.4.2',
      'deployment.environment': 'interop',
      'deployment.environment.name': 'interop',
      'host.name': 'interop-host',
      'service.instance.id': 'instance-7',
    }),
  );
  return new NodeTracerProvider({
    resource,
    // One batch, flushed explicitly, so that one request carries every span.
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000, maxExportBatchSize: 512 })],
  });
}

// Creates two traces and returns the records of every span (for the emitter's stdout line).
function emitTraces(provider, serviceName) {
  const tracer = provider.getTracer('kiseki-interop', '1.0.0');
  const at = clock();
  const d = (ms) => new Date(at(ms));
  const records = [];
  const started = [];
  const start = (name, options, parentSpan) => {
    const ctx = parentSpan ? api.trace.setSpan(ROOT_CONTEXT, parentSpan) : ROOT_CONTEXT;
    const span = tracer.startSpan(name, options, ctx);
    started.push({ span, name, parent: parentSpan || null });
    return span;
  };

  // Trace 1: an HTTP request served with an outgoing call, a database query, internal work that
  // fails, and a message published for later.
  const root = start('GET /checkout', {
    kind: SpanKind.SERVER,
    startTime: d(0),
    attributes: {
      'http.request.method': 'GET',
      'url.path': '/checkout',
      'url.scheme': 'https',
      'http.route': '/checkout',
      'http.response.status_code': 200,
      'server.address': 'shop.example',
      'server.port': 443,
      'client.address': '10.1.2.3',
      'user_agent.original': 'Mozilla/5.0 (interop)',
      'app.cart.total': 42.5,
      'app.cart.empty': false,
      'app.cart.items': 3,
      'app.customer': 'Zoë Ünïcode 東京 🚀',
      'app.tags': ['new', 'mobile'],
      'app.item_ids': [101, 202, 303],
      'app.prices': [9.99, 12.5, 20.01],
      'app.flags': [true, false, true],
    },
  });
  root.addEvent('cache.miss', { 'cache.key': 'cart:42', 'cache.attempt': 1, 'cache.hit_ratio': 0.25, 'cache.cold': true }, d(5));

  const render = start('render cart', { kind: SpanKind.INTERNAL, startTime: d(10), attributes: { 'app.template': 'cart.html', 'app.items_rendered': 3 } }, root);
  render.addEvent('template.compiled', d(12));
  render.end(d(30));

  const db = start('SELECT shop.orders', {
    kind: SpanKind.CLIENT,
    startTime: d(35),
    attributes: {
      'db.system.name': 'postgresql',
      'db.system': 'postgresql',
      'db.namespace': 'shop',
      'db.operation.name': 'SELECT',
      'db.collection.name': 'orders',
      'db.query.text': 'SELECT id, total FROM orders WHERE customer_id = $1',
      'server.address': 'db.internal',
      'server.port': 5432,
      'db.response.returned_rows': 2,
    },
  }, root);
  db.setStatus({ code: SpanStatusCode.OK });
  db.end(d(55));

  const payment = start('POST /payments', {
    kind: SpanKind.CLIENT,
    startTime: d(60),
    attributes: {
      'http.request.method': 'POST',
      'url.full': 'https://payments.internal:8443/payments?order=42',
      'server.address': 'payments.internal',
      'server.port': 8443,
      'http.response.status_code': 402,
      'peer.service': 'payments',
    },
  }, root);

  const charge = start('charge card', { kind: SpanKind.INTERNAL, startTime: d(62), attributes: { 'app.card.brand': 'visa', 'app.amount': 42.5 } }, payment);
  const err = new PaymentDeclinedError('card declined: insufficient funds');
  charge.recordException(err, d(70));
  charge.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined: insufficient funds' });
  charge.end(d(72));
  payment.setStatus({ code: SpanStatusCode.ERROR });
  payment.end(d(80));

  const publish = start('orders publish', {
    kind: SpanKind.PRODUCER,
    startTime: d(85),
    attributes: {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'publish',
      'messaging.destination.name': 'orders',
      'messaging.message.id': 'msg-0001',
      'messaging.kafka.message.key': 'order-42',
    },
  }, root);
  publish.end(d(90));
  root.end(d(100));

  // Trace 2: the consumer of that message, in its own trace, linked to the producer span.
  const consume = start('orders process', {
    kind: SpanKind.CONSUMER,
    startTime: d(200),
    attributes: {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'orders',
      'messaging.consumer.group.name': 'billing',
    },
    links: [{ context: publish.spanContext(), attributes: { 'link.reason': 'message', 'link.batch_index': 0 } }],
  });
  const store = start('store invoice', { kind: SpanKind.INTERNAL, startTime: d(210), attributes: { 'app.invoice.pages': 2 } }, consume);
  store.end(d(240));
  consume.end(d(250));

  for (const { span, name, parent } of started) {
    const sc = span.spanContext();
    records.push({
      trace_id: sc.traceId,
      span_id: sc.spanId,
      parent_span_id: parent ? parent.spanContext().spanId : null,
      name,
      service: serviceName,
      error: span.status ? span.status.code === SpanStatusCode.ERROR : false,
    });
  }
  return records;
}

// Runs one emitter: builds the provider around `exporter`, sends, flushes, shuts down, reports.
async function run(emitter, exporter) {
  const serviceName = `node-${emitter}`;
  const provider = makeProvider(serviceName, exporter);
  const records = emitTraces(provider, serviceName);
  await provider.forceFlush();
  await provider.shutdown();
  report(emitter, records);
}

module.exports = { run };

// Exporter failures go to stderr, so that stdout keeps only the emitter's line.
function quiet() {
  api.diag.setLogger(new api.DiagConsoleLogger(), api.DiagLogLevel.WARN);
}

module.exports.quiet = quiet;
