#!/usr/bin/env python3
# venv: pyzipkin
"""py_zipkin 1.x, Encoding.V1_JSON, POSTed to 9411 /api/v1/spans as application/json."""

from py_zipkin.encoding import Encoding

from _pyzipkin_trace import run

run("pyzipkin-v1-json", Encoding.V1_JSON)
