#!/usr/bin/env python3
# venv: otel-zipkin-proto
"""OpenTelemetry SDK, Zipkin protobuf exporter (opentelemetry-exporter-zipkin-proto-http), v2 proto3 to 9411 /api/v2/spans."""

from opentelemetry.exporter.zipkin.proto.http import ZipkinExporter

from _emit import print_result, url
from _otel_trace import emit_traces, provider_with

exporter = ZipkinExporter(endpoint=url("zipkin", "/api/v2/spans"),
                          local_node_ipv4="10.1.2.3", local_node_port=8080)
print_result("otel-zipkin-proto", emit_traces(provider_with(exporter)))
