#!/usr/bin/env python3
# venv: ddtrace
"""ddtrace with DD_TRACE_NATIVE_SPAN_EVENTS=true, which forces /v0.4/traces with span events as a native field."""

import os

os.environ["DD_TRACE_NATIVE_SPAN_EVENTS"] = "true"
from _ddtrace_trace import run

run("ddtrace-v04-native-events")
