#!/usr/bin/env python3
# venv: pyzipkin
"""py_zipkin 1.x, Encoding.V2_JSON, POSTed to 9411 /api/v2/spans as application/json."""

from py_zipkin.encoding import Encoding

from _pyzipkin_trace import run

run("pyzipkin-v2-json", Encoding.V2_JSON)
