#!/usr/bin/env python3
# venv: otel-jaeger
"""OpenTelemetry SDK 1.21, Jaeger protobuf exporter: gRPC 14250 jaeger.api_v2.CollectorService/PostSpans."""

from opentelemetry.exporter.jaeger.proto.grpc import JaegerExporter

from _emit import HOST, PORTS, print_result
from _otel_trace import emit_traces, provider_with

exporter = JaegerExporter(collector_endpoint=f"{HOST}:{PORTS['jaeger-grpc']}", insecure=True)
print_result("otel-jaeger-grpc", emit_traces(provider_with(exporter)))
