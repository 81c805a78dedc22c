#!/usr/bin/env python3
# venv: ddtrace
"""ddtrace with DD_TRACE_API_VERSION=v0.4: msgpack PUT/POST /v0.4/traces on 8126."""

import os

os.environ["DD_TRACE_API_VERSION"] = "v0.4"
from _ddtrace_trace import run

run("ddtrace-v04")
