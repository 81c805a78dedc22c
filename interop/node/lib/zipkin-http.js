'use strict';
// zipkin-transport-http's HttpLogger, flushed on demand.

const { HttpLogger } = require('zipkin-transport-http');

function httpLogger(endpoint, jsonEncoder) {
  const logger = new HttpLogger({ endpoint, jsonEncoder, httpInterval: 60000 });
  const send = () => new Promise((resolve, reject) => {
    logger.once('success', resolve);
    logger.once('error', reject);
    logger.processQueue(logger.fetchImplementation);
  });
  return { logger, send };
}

module.exports = { httpLogger };
