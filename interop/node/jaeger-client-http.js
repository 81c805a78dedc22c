'use strict';
// jaeger-client with collectorEndpoint, i.e. its HTTPSender: a Thrift binary Batch POSTed to the
// collector at :14268/api/traces.
const { HOST, PORTS } = require('./lib/common');
const { run } = require('./lib/jaegerclient');

run('jaeger-client-http', { collectorEndpoint: `http://${HOST}:${PORTS.jaegerHttp}/api/traces` });
