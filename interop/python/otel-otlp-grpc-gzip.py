#!/usr/bin/env python3
# venv: otel
"""OpenTelemetry SDK, OTLP/gRPC exporter to port 4317 with gzip message compression."""

from grpc import Compression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

from _emit import HOST, PORTS, print_result
from _otel_trace import emit_traces, provider_with

exporter = OTLPSpanExporter(endpoint=f"{HOST}:{PORTS['otlp-grpc']}", insecure=True,
                            compression=Compression.Gzip)
print_result("otel-otlp-grpc-gzip", emit_traces(provider_with(exporter)))
