'use strict';
// @opentelemetry/exporter-jaeger with its default UDPSender: Thrift binary protocol, emitBatch
// messages to the agent port :6832.
const { JaegerExporter } = require('@opentelemetry/exporter-jaeger');
const { HOST, PORTS } = require('./lib/common');
const { run, quiet } = require('./lib/otel');

quiet();
const exporter = new JaegerExporter({
  host: HOST,
  port: PORTS.jaegerBinary,
  tags: [{ key: 'exporter.tag', value: 'udp' }],
});
run('otel-jaeger-udp', exporter);
