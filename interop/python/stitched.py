#!/usr/bin/env python3
# venv: otel
"""One trace across three services, three tracers and three wire formats.

    frontend     OpenTelemetry SDK, B3 multi-header propagator, OTLP/HTTP protobuf to 4318
      -> legacy-cart  py_zipkin: extracts B3, server span + client span, Zipkin v1 JSON to 9411
        -> payments   ddtrace with DD_TRACE_PROPAGATION_STYLE=b3multi,datadog, agent API on 8126

Each service is its own process in its own virtualenv (interop/.venv/<group>) and listens on a
free loopback port. The orchestrator starts them, sends one request to frontend, lets each service
flush and exit, then prints the emitter JSON line with the spans every tracer reported.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.request import Request, urlopen

HERE = os.path.dirname(os.path.abspath(__file__))
VENVS = os.path.join(os.path.dirname(HERE), ".venv")
ROLES = {"payments": "ddtrace", "legacy-cart": "pyzipkin", "frontend": "otel"}


def serve_once(handle):
    """Serves exactly one request on a free loopback port; handle(headers, path) -> (status, body)."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            status, body = handle(self.headers, self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.handle_request()
    server.server_close()


def call(url, headers, method="GET"):
    with urlopen(Request(url, data=b"{}" if method == "POST" else None, headers=headers,
                         method=method), timeout=30) as response:
        return response.status, response.read()


def span_record(trace_id, span_id, parent, name, service, error=False):
    def h(v, width):
        if v is None or v == 0 or v == "":
            return None
        return (f"{v:0{width}x}" if isinstance(v, int) else v.lower().rjust(width, "0"))
    return {"trace_id": h(trace_id, 32), "span_id": h(span_id, 16), "parent_span_id": h(parent, 16),
            "name": name, "service": service, "error": error}


# --- payments: ddtrace ---------------------------------------------------------------------------

def payments():
    from _emit import url
    os.environ.setdefault("DD_TRACE_AGENT_URL", url("datadog"))
    os.environ.setdefault("DD_SERVICE", "payments")
    os.environ.setdefault("DD_ENV", "staging")
    os.environ.setdefault("DD_VERSION", "2.0.1")
    os.environ["DD_TRACE_PROPAGATION_STYLE"] = "b3multi,datadog"
    from ddtrace.propagation.http import HTTPPropagator
    from ddtrace.trace import tracer

    spans = []

    def handle(headers, path):
        context = HTTPPropagator.extract(dict(headers.items()))
        tracer.context_provider.activate(context)
        with tracer.trace("payments.charge", service="payments", resource="POST /pay",
                          span_type="web") as span:
            span.set_tag("span.kind", "server")
            span.set_tag("http.method", "POST")
            span.set_tag("http.route", "/pay")
            span.set_tag("http.status_code", "200")
            spans.append(span_record(span.trace_id, span.span_id, span.parent_id, span.name, span.service))
            with tracer.trace("postgres.query", service="payments-db",
                              resource="INSERT INTO charges VALUES (?, ?)", span_type="sql") as db:
                db.set_tag("span.kind", "client")
                db.set_tag("db.system", "postgresql")
                spans.append(span_record(db.trace_id, db.span_id, db.parent_id, db.name, db.service))
        return 200, b'{"charged": true}'

    serve_once(handle)
    tracer.flush()
    tracer.shutdown(timeout=10)
    print(json.dumps(spans, ensure_ascii=False), flush=True)


# --- legacy-cart: py_zipkin ----------------------------------------------------------------------

def legacy_cart(payments_url):
    from py_zipkin.encoding import Encoding
    from py_zipkin.request_helpers import create_http_headers, extract_zipkin_attrs_from_headers
    from py_zipkin.util import ZipkinAttrs, generate_random_64bit_string
    from py_zipkin.zipkin import Kind, zipkin_span

    from _pyzipkin_trace import HttpTransport

    spans = []

    def handle(headers, path):
        incoming = extract_zipkin_attrs_from_headers(headers)
        # A child of the caller's client span, with its own span id. py_zipkin treats a span
        # started from incoming attrs as the shared server half of the caller's span (no
        # timestamp/duration in v1, shared=true in v2) unless report_root_timestamp is set.
        attrs = ZipkinAttrs(trace_id=incoming.trace_id, span_id=generate_random_64bit_string(),
                            parent_span_id=incoming.span_id, flags=incoming.flags,
                            is_sampled=incoming.is_sampled)
        with zipkin_span(service_name="legacy-cart", span_name="GET /cart", kind=Kind.SERVER,
                         zipkin_attrs=attrs, report_root_timestamp=True,
                         transport_handler=HttpTransport(Encoding.V1_JSON),
                         encoding=Encoding.V1_JSON, host="10.1.2.4", port=8081,
                         binary_annotations={"http.method": "GET", "http.path": path}) as server:
            a = server.zipkin_attrs
            spans.append(span_record(a.trace_id, a.span_id, a.parent_span_id, "GET /cart", "legacy-cart"))
            with zipkin_span(service_name="legacy-cart", span_name="POST /pay", kind=Kind.CLIENT,
                             binary_annotations={"http.method": "POST", "http.url": payments_url}) as client:
                a = client.zipkin_attrs
                spans.append(span_record(a.trace_id, a.span_id, a.parent_span_id, "POST /pay",
                                         "legacy-cart"))
                client.add_sa_binary_annotation(port=int(payments_url.rsplit(":", 1)[1].split("/")[0]),
                                                service_name="payments", host="127.0.0.1")
                status, body = call(payments_url, create_http_headers(), method="POST")
                client.update_binary_annotations({"http.status_code": str(status)})
            server.update_binary_annotations({"http.status_code": "200"})
        return 200, body

    serve_once(handle)
    print(json.dumps(spans, ensure_ascii=False), flush=True)


# --- frontend: OpenTelemetry SDK -----------------------------------------------------------------

def frontend(cart_url):
    from opentelemetry import propagate, trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.propagators.b3 import B3MultiFormat
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind

    from _emit import url

    propagate.set_global_textmap(B3MultiFormat())
    provider = TracerProvider(resource=Resource.create({
        "service.name": "frontend", "service.version": "3.2.0", "deployment.environment": "staging",
        "host.name": "interop-host-1"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url("otlp-http", "/v1/traces"))))
    tracer = provider.get_tracer("kiseki.interop.stitched")
    spans = []

    def note(span, name):
        ctx = span.get_span_context()
        spans.append(span_record(ctx.trace_id, ctx.span_id, span.parent.span_id if span.parent else None,
                                 name, "frontend"))

    def handle(headers, path):
        parent = propagate.extract(dict(headers.items()))
        with tracer.start_as_current_span("GET /checkout", context=parent, kind=SpanKind.SERVER,
                                          attributes={"http.request.method": "GET", "url.path": path,
                                                      "http.route": "/checkout"}) as server:
            note(server, "GET /checkout")
            with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT,
                                              attributes={"http.request.method": "GET",
                                                          "url.full": cart_url}) as client:
                note(client, "GET")
                headers_out = {}
                propagate.inject(headers_out)
                status, body = call(cart_url, headers_out)
                client.set_attribute("http.response.status_code", status)
            server.set_attribute("http.response.status_code", 200)
        return 200, body

    serve_once(handle)
    provider.shutdown()
    print(json.dumps(spans, ensure_ascii=False), flush=True)


# --- orchestrator --------------------------------------------------------------------------------

class Service:
    def __init__(self, role, *args):
        python = os.path.join(VENVS, ROLES[role], "bin", "python")
        self.role = role
        self.proc = subprocess.Popen([python, os.path.abspath(__file__), "--role", role, *args],
                                     cwd=HERE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if not first.startswith("listening "):
            raise SystemExit(f"stitched: {role} did not start")
        self.url = f"http://127.0.0.1:{int(first.split()[1])}"

    def spans(self):
        out, _ = self.proc.communicate(timeout=60)
        if self.proc.returncode != 0:
            raise SystemExit(f"stitched: {self.role} exited {self.proc.returncode}")
        return json.loads(out.strip().splitlines()[-1])


def orchestrate():
    pay = Service("payments")
    cart = Service("legacy-cart", pay.url + "/pay")
    front = Service("frontend", cart.url + "/cart/42")
    result = {}

    def request():
        result["status"], _ = call(front.url + "/checkout/42", {})

    t = threading.Thread(target=request)
    t.start()
    t.join(60)
    spans = front.spans() + cart.spans() + pay.spans()
    trace_ids = {s.pop("trace_id") for s in spans}
    if result.get("status") != 200 or len(trace_ids) != 1:
        raise SystemExit(f"stitched: status {result.get('status')}, trace ids {trace_ids}")
    line = {"emitter": "stitched", "traces": [{"trace_id": trace_ids.pop(), "spans": spans}]}
    print(json.dumps(line, ensure_ascii=False, separators=(",", ":")), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=sorted(ROLES))
    parser.add_argument("downstream", nargs="?")
    args = parser.parse_args()
    sys.path.insert(0, HERE)
    if args.role == "payments":
        payments()
    elif args.role == "legacy-cart":
        legacy_cart(args.downstream)
    elif args.role == "frontend":
        frontend(args.downstream)
    else:
        orchestrate()


if __name__ == "__main__":
    main()
