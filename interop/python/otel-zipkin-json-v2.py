#!/usr/bin/env python3
# venv: otel
"""OpenTelemetry SDK, Zipkin JSON exporter (opentelemetry-exporter-zipkin-json), v2 JSON to 9411 /api/v2/spans."""

from opentelemetry.exporter.zipkin.encoder import Protocol
from opentelemetry.exporter.zipkin.json import ZipkinExporter

from _emit import print_result, url
from _otel_trace import emit_traces, provider_with

exporter = ZipkinExporter(version=Protocol.V2, endpoint=url("zipkin", "/api/v2/spans"),
                          local_node_ipv4="10.1.2.3", local_node_port=8080)
print_result("otel-zipkin-json-v2", emit_traces(provider_with(exporter)))
