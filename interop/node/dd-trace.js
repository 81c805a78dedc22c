'use strict';
// dd-trace (Datadog APM for Node.js) with its defaults: msgpack traces to the agent port :8126,
// PUT /v0.4/traces, span events as a JSON string in meta "events".
require('./lib/ddtrace').run('dd-trace');
