#!/usr/bin/env python3
"""Capture what real tracer libraries send, byte for byte, on kiseki's standard ports.

Listens like kiseki would (OTLP HTTP/gRPC, Zipkin, Jaeger UDP/HTTP/gRPC, Datadog agent) and answers
the way a collector answers, so tracers behave as in production. Every request is written to
--out as two files:

    NNN-<port>-<slug>.body   the payload exactly as received (still gzip-compressed if it was;
                             for gRPC the message after the 5-byte frame, decompressed by gRPC)
    NNN-<port>-<slug>.json   transport, method, path, query, headers, body length

Run it, point a tracer at 127.0.0.1, stop it with SIGINT/SIGTERM. gRPC capture needs `grpcio`.
"""

import argparse
import json
import os
import re
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HTTP_PORTS = {"otlp-http": 4318, "zipkin": 9411, "jaeger-http": 14268, "datadog": 8126}
GRPC_PORTS = {"otlp-grpc": 4317, "jaeger-grpc": 14250}
UDP_PORTS = {"jaeger-compact": 6831, "jaeger-binary": 6832}

DATADOG_INFO = {
    "version": "kiseki-capture",
    "endpoints": ["/v0.3/traces", "/v0.4/traces", "/v0.5/traces", "/v0.7/traces", "/info",
                  "/telemetry/proxy/"],
    "client_drop_p0s": False,
    "span_meta_structs": False,
}


class Recorder:
    """Numbers captured requests and writes them to the output folder."""

    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.lock = threading.Lock()
        self.seq = 0
        os.makedirs(out_dir, exist_ok=True)

    def record(self, port, transport, method, path, query, headers, body):
        slug = re.sub(r"[^a-zA-Z0-9]+", "-", path).strip("-") or "root"
        with self.lock:
            self.seq += 1
            stem = os.path.join(self.out_dir, f"{self.seq:03d}-{port}-{slug}")
        with open(stem + ".body", "wb") as f:
            f.write(body)
        meta = {
            "transport": transport,
            "port": port,
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "body_bytes": len(body),
        }
        with open(stem + ".json", "w") as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"captured {stem} ({len(body)} bytes)", flush=True)


def http_handler(recorder, port):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _reply(self, status, body=b"", content_type="text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self):
            body = self._read_body()
            url = urlsplit(self.path)
            headers = {k: v for k, v in self.headers.items()}
            recorder.record(port, "http", self.command, url.path, url.query, headers, body)
            self._answer(url.path, headers)

        def _answer(self, path, headers):
            if port == HTTP_PORTS["otlp-http"]:
                if "json" in headers.get("Content-Type", ""):
                    return self._reply(200, b"{}", "application/json")
                return self._reply(200, b"", "application/x-protobuf")
            if port == HTTP_PORTS["zipkin"] or port == HTTP_PORTS["jaeger-http"]:
                return self._reply(202)
            if path == "/info":
                return self._reply(200, json.dumps(DATADOG_INFO).encode(), "application/json")
            if path == "/v0.3/traces":
                return self._reply(200, b"OK")
            if re.fullmatch(r"/v0\.[4-7]/traces", path):
                rates = {"rate_by_service": {"service:,env:": 1.0}}
                return self._reply(200, json.dumps(rates).encode(), "application/json")
            if path.startswith("/telemetry/proxy/"):
                return self._reply(202)
            return self._reply(404, b"not found")

        do_GET = do_POST = do_PUT = _handle

    return Handler


def serve_grpc(recorder, host):
    import grpc
    from concurrent import futures

    class CaptureMethods(grpc.GenericRpcHandler):
        """Accepts every unary method on one port and records the raw request message."""

        def __init__(self, port):
            self.port = port

        def service(self, details):
            method, port = details.method, self.port

            def unary(request, context):
                meta = {k: v for k, v in context.invocation_metadata()}
                recorder.record(port, "grpc", "POST", method, "", meta, request)
                return b""

            return grpc.unary_unary_rpc_method_handler(unary)

    servers = []
    for port in GRPC_PORTS.values():
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))

        server.add_generic_rpc_handlers((CaptureMethods(port),))
        server.add_insecure_port(f"{host}:{port}")
        server.start()
        servers.append(server)
    return servers


def serve_udp(recorder, host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))

    def loop():
        while True:
            data, _ = sock.recvfrom(65535)
            recorder.record(port, "udp", "", "emitBatch", "", {}, data)

    threading.Thread(target=loop, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder to write captures into")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-grpc", action="store_true", help="skip the gRPC ports")
    args = parser.parse_args()

    recorder = Recorder(args.out)
    for port in HTTP_PORTS.values():
        server = ThreadingHTTPServer((args.host, port), http_handler(recorder, port))
        threading.Thread(target=server.serve_forever, daemon=True).start()
    for port in UDP_PORTS.values():
        serve_udp(recorder, args.host, port)
    grpc_servers = [] if args.no_grpc else serve_grpc(recorder, args.host)

    print("capture: listening", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for server in grpc_servers:
        server.stop(0)


if __name__ == "__main__":
    main()
