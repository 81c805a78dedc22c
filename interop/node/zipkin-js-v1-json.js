'use strict';
// zipkin + zipkin-transport-http: Zipkin v1 JSON (the HttpLogger's default encoder) to :9411/api/v1/spans.
const { jsonEncoder: { JSON_V1 } } = require('zipkin');
const { HOST, PORTS } = require('./lib/common');
const { httpLogger } = require('./lib/zipkin-http');
const { run } = require('./lib/zipkinjs');

const { logger, send } = httpLogger(`http://${HOST}:${PORTS.zipkin}/api/v1/spans`, JSON_V1);
run('zipkin-js-v1-json', logger, send);
