'use strict';
// @opentelemetry/exporter-trace-otlp-http: OTLP/HTTP JSON to :4318/v1/traces.
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http');
const { HOST, PORTS } = require('./lib/common');
const { run, quiet } = require('./lib/otel');

quiet();
const exporter = new OTLPTraceExporter({ url: `http://${HOST}:${PORTS.otlpHttp}/v1/traces` });
run('otel-otlp-http-json', exporter);
