'use strict';
// zipkin + zipkin-transport-http with jsonEncoder JSON_V2: Zipkin v2 JSON to :9411/api/v2/spans.
const { jsonEncoder: { JSON_V2 } } = require('zipkin');
const { HOST, PORTS } = require('./lib/common');
const { httpLogger } = require('./lib/zipkin-http');
const { run } = require('./lib/zipkinjs');

const { logger, send } = httpLogger(`http://${HOST}:${PORTS.zipkin}/api/v2/spans`, JSON_V2);
run('zipkin-js-v2-json', logger, send);
