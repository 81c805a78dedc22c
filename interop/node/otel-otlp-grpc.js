'use strict';
// @opentelemetry/exporter-trace-otlp-grpc: OTLP/gRPC to :4317 (plaintext).
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-grpc');
const { HOST, PORTS } = require('./lib/common');
const { run, quiet } = require('./lib/otel');

quiet();
const exporter = new OTLPTraceExporter({ url: `http://${HOST}:${PORTS.otlpGrpc}` });
run('otel-otlp-grpc', exporter);
