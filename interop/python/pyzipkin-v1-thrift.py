#!/usr/bin/env python3
# venv: pyzipkin-thrift
"""py_zipkin 0.20 (the last line that encodes Thrift), Encoding.V1_THRIFT, POSTed to 9411 /api/v1/spans as application/x-thrift."""

from py_zipkin.encoding import Encoding

from _pyzipkin_trace import run

run("pyzipkin-v1-thrift", Encoding.V1_THRIFT)
