#!/usr/bin/env python3
# venv: ddtrace
"""ddtrace with its default writer settings: GET /info, then msgpack POST /v0.5/traces on 8126."""

from _ddtrace_trace import run

run("ddtrace-v05")
