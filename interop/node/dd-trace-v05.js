'use strict';
// dd-trace with protocolVersion 0.5 (DD_TRACE_AGENT_PROTOCOL_VERSION): PUT /v0.5/traces, the
// string-table msgpack encoding.
require('./lib/ddtrace').run('dd-trace-v05', { protocolVersion: '0.5' });
