#!/usr/bin/env python3
# venv: otel-otlp-json
"""OpenTelemetry SDK, OTLP/HTTP JSON exporter (opentelemetry-exporter-otlp-json-http, beta) to 4318 /v1/traces."""

from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter

from _emit import print_result, url
from _otel_trace import emit_traces, provider_with

exporter = OTLPSpanExporter(endpoint=url("otlp-http", "/v1/traces"))
print_result("otel-otlp-http-json", emit_traces(provider_with(exporter)))
