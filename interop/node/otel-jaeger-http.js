'use strict';
// @opentelemetry/exporter-jaeger with an endpoint, i.e. its HTTPSender: a Thrift binary Batch
// POSTed to the collector at :14268/api/traces.
const { JaegerExporter } = require('@opentelemetry/exporter-jaeger');
const { HOST, PORTS } = require('./lib/common');
const { run, quiet } = require('./lib/otel');

quiet();
const exporter = new JaegerExporter({
  endpoint: `http://${HOST}:${PORTS.jaegerHttp}/api/traces`,
  tags: [{ key: 'exporter.tag', value: 'http' }],
});
run('otel-jaeger-http', exporter);
