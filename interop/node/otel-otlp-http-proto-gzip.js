'use strict';
// @opentelemetry/exporter-trace-otlp-proto: OTLP/HTTP protobuf to :4318/v1/traces, gzip-compressed.
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { HOST, PORTS } = require('./lib/common');
const { run, quiet } = require('./lib/otel');

quiet();
const exporter = new OTLPTraceExporter({
  url: `http://${HOST}:${PORTS.otlpHttp}/v1/traces`,
  compression: 'gzip',
});
run('otel-otlp-http-proto-gzip', exporter);
