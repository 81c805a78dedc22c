'use strict';
// jaeger-client with its default UDPSender: emitBatch messages, Thrift binary protocol, to the
// agent port :6832.
const { HOST, PORTS } = require('./lib/common');
const { run } = require('./lib/jaegerclient');

run('jaeger-client-udp', { agentHost: HOST, agentPort: PORTS.jaegerBinary });
