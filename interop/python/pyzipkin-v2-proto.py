#!/usr/bin/env python3
# venv: pyzipkin
"""py_zipkin 1.x, Encoding.V2_PROTO3, POSTed to 9411 /api/v2/spans as application/x-protobuf."""

from py_zipkin.encoding import Encoding

from _pyzipkin_trace import run

run("pyzipkin-v2-proto", Encoding.V2_PROTO3)
