#!/usr/bin/env python3
# venv: otel
"""OpenTelemetry SDK, OTLP/gRPC exporter (opentelemetry-exporter-otlp-proto-grpc) to port 4317."""

from grpc import Compression
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

from _emit import HOST, PORTS, print_result
from _otel_trace import emit_traces, provider_with

exporter = OTLPSpanExporter(endpoint=f"{HOST}:{PORTS['otlp-grpc']}", insecure=True,
                            compression=Compression.NoCompression)
print_result("otel-otlp-grpc", emit_traces(provider_with(exporter)))
