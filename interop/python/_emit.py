"""Shared helpers for the emitters: where to send, and the one JSON line each emitter prints."""

import json
import os
import sys

HOST = os.environ.get("KISEKI_HOST", "127.0.0.1")
PORTS = {
    "otlp-grpc": 4317,
    "otlp-http": 4318,
    "zipkin": 9411,
    "jaeger-compact": 6831,
    "jaeger-binary": 6832,
    "jaeger-http": 14268,
    "jaeger-grpc": 14250,
    "datadog": 8126,
}


def url(port_name, path=""):
    return f"http://{HOST}:{PORTS[port_name]}{path}"


def hex_trace_id(value):
    """A trace id as 32 lowercase hex digits; 64-bit ids are left-padded with zeros."""
    if isinstance(value, str):
        value = int(value, 16)
    return f"{value:032x}"


def hex_span_id(value):
    if value is None or value == 0:
        return None
    if isinstance(value, str):
        value = int(value, 16)
    return f"{value:016x}"


class Recorded:
    """Collects the ids the tracer's API reported, grouped by trace, in creation order."""

    def __init__(self):
        self.traces = {}

    def add(self, trace_id, span_id, parent_span_id, name, service, error=False):
        tid = hex_trace_id(trace_id)
        self.traces.setdefault(tid, []).append({
            "span_id": hex_span_id(span_id),
            "parent_span_id": hex_span_id(parent_span_id),
            "name": name,
            "service": service,
            "error": bool(error),
        })

    def set_error(self, span_id, error=True):
        sid = hex_span_id(span_id)
        for spans in self.traces.values():
            for span in spans:
                if span["span_id"] == sid:
                    span["error"] = error

    def result(self, emitter):
        return {
            "emitter": emitter,
            "traces": [{"trace_id": tid, "spans": spans} for tid, spans in self.traces.items()],
        }


def print_result(emitter, recorded):
    line = json.dumps(recorded.result(emitter), ensure_ascii=False, separators=(",", ":"))
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
