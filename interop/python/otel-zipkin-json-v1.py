#!/usr/bin/env python3
# venv: otel
"""OpenTelemetry SDK, Zipkin JSON exporter in its v1 mode, v1 JSON to 9411 /api/v1/spans."""

from opentelemetry.exporter.zipkin.encoder import Protocol
from opentelemetry.exporter.zipkin.json import ZipkinExporter

from _emit import print_result, url
from _otel_trace import emit_traces, provider_with

# max_tag_value_length must be given in v1 mode: its default (None) makes the v1 encoder raise
# TypeError on the first string tag (opentelemetry-exporter-zipkin-json 1.45.1). 128 is the
# encoders' own default.
exporter = ZipkinExporter(version=Protocol.V1, endpoint=url("zipkin", "/api/v1/spans"),
                          local_node_ipv4="10.1.2.3", local_node_port=8080, max_tag_value_length=128)
print_result("otel-zipkin-json-v1", emit_traces(provider_with(exporter)))
