'use strict';
// @opentelemetry/exporter-zipkin: Zipkin v2 JSON to :9411/api/v2/spans.
const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
const { HOST, PORTS } = require('./lib/common');
const { run, quiet } = require('./lib/otel');

quiet();
const exporter = new ZipkinExporter({ url: `http://${HOST}:${PORTS.zipkin}/api/v2/spans` });
run('otel-zipkin', exporter);
