#!/usr/bin/env python3
# venv: otel-jaeger
"""OpenTelemetry SDK 1.21, Jaeger Thrift exporter in collector mode: binary Thrift Batch over HTTP 14268 /api/traces."""

from opentelemetry.exporter.jaeger.thrift import JaegerExporter

from _emit import print_result, url
from _otel_trace import emit_traces, provider_with

exporter = JaegerExporter(collector_endpoint=url("jaeger-http", "/api/traces?format=jaeger.thrift"))
print_result("otel-jaeger-thrift-collector", emit_traces(provider_with(exporter)))
