'use strict';
// dd-trace with DD_TRACE_NATIVE_SPAN_EVENTS=true: PUT /v0.4/traces with span events in the span's
// own "span_events" field instead of meta "events".
process.env.DD_TRACE_NATIVE_SPAN_EVENTS ??= 'true';
require('./lib/ddtrace').run('dd-trace-native-events');
