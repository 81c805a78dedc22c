#!/usr/bin/env python3
# venv: otel-jaeger
"""OpenTelemetry SDK 1.21, Jaeger Thrift exporter in agent mode: compact Thrift emitBatch over UDP 6831."""

from opentelemetry.exporter.jaeger.thrift import JaegerExporter

from _emit import HOST, PORTS, print_result
from _otel_trace import emit_traces, provider_with

exporter = JaegerExporter(agent_host_name=HOST, agent_port=PORTS["jaeger-compact"])
print_result("otel-jaeger-thrift-agent", emit_traces(provider_with(exporter)))
