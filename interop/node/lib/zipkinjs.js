'use strict';
// The traces every zipkin-js emitter sends: the same instrumented code, only the logger differs.
//
// zipkin-js lower-cases span and service names, so the names given here are lower-case already.

const {
  Tracer, BatchRecorder, ExplicitContext, Annotation, InetAddress, TraceId,
  option: { Some },
} = require('zipkin');
const { report, clock } = require('./common');

// Times in epoch microseconds, relative to one base.
function micros() {
  const at = clock();
  return (offsetMs) => at(offsetMs) * 1000;
}

function emitTraces(emitter, logger) {
  const service = `node-${emitter}`;
  const paymentsService = 'payments';
  const t = micros();
  const recorder = new BatchRecorder({ logger });
  const defaultTags = { 'service.version': '1.4.2', 'deployment.environment': 'interop', 'host.name': 'interop-host' };
  const tracer = new Tracer({
    ctxImpl: new ExplicitContext(),
    recorder,
    localServiceName: service,
    traceId128Bit: true,
    defaultTags,
  });
  // The payments service is reached by the client span and joins it (same span id, shared).
  const payments = new Tracer({ ctxImpl: new ExplicitContext(), recorder, localServiceName: paymentsService });
  // A second, 64-bit tracer for the consumer trace.
  const worker = new Tracer({ ctxImpl: new ExplicitContext(), recorder, localServiceName: service, defaultTags });

  const records = [];
  const note = (id, name, svc, error = false) => records.push({
    trace_id: id.traceId,
    span_id: id.spanId,
    parent_span_id: id.parentSpanId.getOrElse(null),
    name,
    service: svc,
    error,
  });

  // Trace 1: a server span (128-bit trace id) with children.
  tracer.scoped(() => {
    const rootId = tracer.createRootId();
    tracer.setId(rootId);
    note(rootId, 'get /checkout', service);
    tracer.recordServiceName(service);
    tracer.recordRpc('get /checkout');
    tracer.recordAnnotation(new Annotation.ServerRecv(), t(0));
    tracer.recordAnnotation(new Annotation.LocalAddr({ host: new InetAddress('192.168.7.10'), port: 8080 }), t(0));
    tracer.recordAnnotation(new Annotation.ClientAddr({ host: new InetAddress('10.1.2.3'), port: 53211 }), t(0));
    tracer.recordBinary('http.method', 'GET');
    tracer.recordBinary('http.path', '/checkout');
    tracer.recordBinary('http.status_code', 200);
    tracer.recordBinary('app.cart.total', 42.5);
    tracer.recordBinary('app.cart.empty', false);
    tracer.recordBinary('app.customer', 'Zoë Ünïcode 東京 🚀');
    tracer.recordAnnotation(new Annotation.Message('cache.miss'), t(5));

    // Local work.
    tracer.scoped(() => {
      const id = tracer.createChildId();
      tracer.setId(id);
      note(id, 'render cart', service);
      tracer.recordServiceName(service);
      tracer.recordAnnotation(new Annotation.LocalOperationStart('render cart'), t(10));
      tracer.recordBinary('app.template', 'cart.html');
      tracer.recordAnnotation(new Annotation.LocalOperationStop(), t(30));
    });

    // A database call.
    tracer.scoped(() => {
      const id = tracer.createChildId();
      tracer.setId(id);
      note(id, 'select shop.orders', service);
      tracer.recordServiceName(service);
      tracer.recordRpc('select shop.orders');
      tracer.recordAnnotation(new Annotation.ClientSend(), t(35));
      tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: 'postgresql', host: new InetAddress('10.0.0.5'), port: 5432 }), t(35));
      tracer.recordBinary('sql.query', 'SELECT id, total FROM orders WHERE customer_id = $1');
      tracer.recordAnnotation(new Annotation.ClientRecv(), t(55));
    });

    // An HTTP call to the payments service, which fails there.
    tracer.scoped(() => {
      const clientId = tracer.createChildId();
      tracer.setId(clientId);
      note(clientId, 'post /payments', service, true);
      tracer.recordServiceName(service);
      tracer.recordRpc('post /payments');
      tracer.recordAnnotation(new Annotation.ClientSend(), t(60));
      tracer.recordAnnotation(new Annotation.ServerAddr({ serviceName: paymentsService, host: new InetAddress('10.0.0.7'), port: 8443 }), t(60));
      tracer.recordBinary('http.method', 'POST');
      tracer.recordBinary('http.url', 'https://payments.internal:8443/payments?order=42');

      // The server side, as the payments service records it after reading the B3 headers.
      payments.scoped(() => {
        const incoming = new TraceId({
          traceId: clientId.traceId,
          parentId: clientId.parentSpanId,
          spanId: clientId.spanId,
          sampled: new Some(true),
        });
        const serverId = payments.join(incoming);
        payments.setId(serverId);
        note(serverId, 'post /payments', paymentsService, true);
        payments.recordServiceName(paymentsService);
        payments.recordRpc('post /payments');
        payments.recordAnnotation(new Annotation.ServerRecv(), t(61));
        payments.recordBinary('http.path', '/payments');

        payments.scoped(() => {
          const id = payments.createChildId();
          payments.setId(id);
          note(id, 'charge card', paymentsService, true);
          payments.recordServiceName(paymentsService);
          payments.recordAnnotation(new Annotation.LocalOperationStart('charge card'), t(62));
          payments.recordBinary('error', 'card declined: insufficient funds');
          payments.recordAnnotation(new Annotation.LocalOperationStop(), t(72));
        });

        payments.recordBinary('http.status_code', 402);
        payments.recordBinary('error', '402');
        payments.recordAnnotation(new Annotation.ServerSend(), t(78));
      });

      tracer.recordBinary('http.status_code', 402);
      tracer.recordBinary('error', '402');
      tracer.recordAnnotation(new Annotation.ClientRecv(), t(80));
    });

    // A message published for later.
    tracer.scoped(() => {
      const id = tracer.createChildId();
      tracer.setId(id);
      note(id, 'publish orders', service);
      tracer.recordServiceName(service);
      tracer.recordRpc('publish orders');
      tracer.recordAnnotation(new Annotation.ProducerStart(), t(85));
      tracer.recordAnnotation(new Annotation.MessageAddr({ serviceName: 'kafka', host: new InetAddress('10.0.0.9'), port: 9092 }), t(85));
      tracer.recordBinary('kafka.topic', 'orders');
      tracer.recordAnnotation(new Annotation.ProducerStop(), t(90));
    });

    tracer.recordAnnotation(new Annotation.ServerSend(), t(100));
  });

  // Trace 2: the consumer of that message, a 64-bit trace.
  worker.scoped(() => {
    const id = worker.createRootId();
    worker.setId(id);
    note(id, 'consume orders', service);
    worker.recordServiceName(service);
    worker.recordRpc('consume orders');
    worker.recordAnnotation(new Annotation.ConsumerStart(), t(200));
    worker.recordAnnotation(new Annotation.MessageAddr({ serviceName: 'kafka', host: new InetAddress('10.0.0.9'), port: 9092 }), t(200));
    worker.recordBinary('kafka.topic', 'orders');

    worker.scoped(() => {
      const child = worker.createChildId();
      worker.setId(child);
      note(child, 'store invoice', service);
      worker.recordServiceName(service);
      worker.recordAnnotation(new Annotation.LocalOperationStart('store invoice'), t(210));
      worker.recordAnnotation(new Annotation.LocalOperationStop(), t(240));
    });

    worker.recordAnnotation(new Annotation.ConsumerStop(), t(250));
  });

  recorder.flush();
  return records;
}

// Runs one emitter: records the traces into `logger`, then `send()` delivers what it queued.
async function run(emitter, logger, send) {
  const records = emitTraces(emitter, logger);
  await send();
  report(emitter, records);
}

module.exports = { run };
