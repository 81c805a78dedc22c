'use strict';
// zipkin + zipkin-encoder-thrift: Zipkin v1 Thrift to :9411/api/v1/spans.
//
// zipkin-encoder-thrift turns one span into one TBinaryProtocol Span struct (it is the encoder of
// zipkin-transport-kafka and the scribe transport). Zipkin's HTTP collector takes a TBinaryProtocol
// list of spans, so this logger prefixes the encoded spans with the list header: element type
// STRUCT (12) and the count as a big-endian i32, and POSTs them as application/x-thrift.
const THRIFT = require('zipkin-encoder-thrift');
const { HOST, PORTS } = require('./lib/common');
const { run } = require('./lib/zipkinjs');

const endpoint = `http://${HOST}:${PORTS.zipkin}/api/v1/spans`;
const encoded = [];
const logger = {
  logSpan(span) {
    encoded.push(Buffer.from(THRIFT.encode(span)));
  },
};

async function send() {
  const header = Buffer.alloc(5);
  header.writeInt8(12, 0);
  header.writeInt32BE(encoded.length, 1);
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-thrift' },
    body: Buffer.concat([header, ...encoded]),
  });
  if (res.status !== 202 && res.status !== 200) {
    throw new Error(`zipkin answered ${res.status}`);
  }
}

run('zipkin-js-v1-thrift', logger, send);
