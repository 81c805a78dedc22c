'use strict';
// @opentelemetry/exporter-trace-otlp-proto: OTLP/HTTP protobuf to :4318/v1/traces, uncompressed.
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { HOST, PORTS } = require('./lib/common');
const { run, quiet } = require('./lib/otel');

quiet();
const exporter = new OTLPTraceExporter({ url: `http://${HOST}:${PORTS.otlpHttp}/v1/traces` });
run('otel-otlp-http-proto', exporter);
