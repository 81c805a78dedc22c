#!/usr/bin/env python3
# venv: otel
"""OpenTelemetry SDK, OTLP/HTTP protobuf exporter to 4318 /v1/traces with Content-Encoding: gzip."""

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from _emit import print_result, url
from _otel_trace import emit_traces, provider_with

exporter = OTLPSpanExporter(endpoint=url("otlp-http", "/v1/traces"), compression=Compression.Gzip)
print_result("otel-otlp-http-gzip", emit_traces(provider_with(exporter)))
