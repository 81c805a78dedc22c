#!/usr/bin/env python3
"""Kills `kiseki serve` with SIGKILL at random moments during ingest and checks that every span it
acknowledged is there after the restart.

Several sender threads post OTLP/JSON traces to the server's OTLP HTTP port while the server is
killed after a random delay, again and again, on the same data directory. A trace counts as
acknowledged only when its request got 200. After each restart every acknowledged trace must be
readable through `GET /api/traces/{id}` with exactly the spans that were sent: none lost, none
doubled. After each restart the traces acknowledged since the last check are all read back, with a
sample of older ones; after the last restart, every acknowledged trace is. Traces whose request was cut off by the kill may or may not be there.

Usage: scripts/crash_test.py --kiseki target/release/kiseki [--rounds 20] [--seed 1]
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

HOST = "127.0.0.1"
SERVICES = ["frontend", "checkout", "cart", "payment", "shipping"]


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def make_trace(rng, now_ns):
    """One trace as OTLP/JSON resourceSpans, and its span count."""
    trace_id = "%032x" % rng.getrandbits(128)
    spans_by_service = {}
    count = rng.randint(1, 12)
    parent = None
    for i in range(count):
        span_id = "%016x" % (rng.getrandbits(63) + 1)
        service = SERVICES[i % len(SERVICES)]
        start = now_ns + i * 1000
        span = {
            "traceId": trace_id,
            "spanId": span_id,
            "name": "op-%d" % i,
            "kind": 2 if i == 0 else 3,
            "startTimeUnixNano": str(start),
            "endTimeUnixNano": str(start + rng.randint(1_000, 50_000_000)),
            "attributes": [{"key": "crash.round", "value": {"stringValue": str(i)}}],
        }
        if parent:
            span["parentSpanId"] = parent
        parent = span_id
        spans_by_service.setdefault(service, []).append(span)
    resource_spans = [
        {
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": s}}]},
            "scopeSpans": [{"scope": {"name": "crash-test"}, "spans": spans}],
        }
        for s, spans in spans_by_service.items()
    ]
    return trace_id, count, resource_spans


class Sender(threading.Thread):
    """Posts batches of traces until told to stop; records what was acknowledged."""

    def __init__(self, port, seed, acked, lock, stop):
        super().__init__(daemon=True)
        self.url = f"http://{HOST}:{port}/v1/traces"
        self.rng = random.Random(seed)
        self.acked, self.lock, self.stop = acked, lock, stop
        self.sent = 0

    def run(self):
        while not self.stop.is_set():
            batch = [make_trace(self.rng, time.time_ns()) for _ in range(self.rng.randint(1, 40))]
            body = json.dumps({"resourceSpans": [rs for _, _, r in batch for rs in r]}).encode()
            request = urllib.request.Request(
                self.url, data=body, headers={"Content-Type": "application/json"}
            )
            self.sent += 1
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    ok = response.status == 200
            except (urllib.error.URLError, ConnectionError, OSError):
                ok = False
                time.sleep(0.05)
            if ok:
                with self.lock:
                    for trace_id, count, _ in batch:
                        self.acked[trace_id] = count


def start_server(kiseki, data_dir, otlp_port, query_port, log):
    command = [
        kiseki, "serve", "--host", HOST, "--data-dir", data_dir,
        "--otlp-http-addr", str(otlp_port), "--query-addr", str(query_port),
        "--otlp-grpc-addr", "off", "--zipkin-addr", "off", "--jaeger-compact-addr", "off",
        "--jaeger-binary-addr", "off", "--jaeger-http-addr", "off", "--jaeger-grpc-addr", "off",
        "--datadog-addr", "off", "--head-max-spans", "20000",
    ]
    server = subprocess.Popen(command, stdout=log, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"kiseki exited with {server.returncode} at start; see {log.name}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{query_port}/metrics", timeout=1):
                return server
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.05)
    server.kill()
    raise AssertionError(f"kiseki did not start within 60 s; see {log.name}")


def fetch_span_count(query_port, trace_id):
    """Spans stored for a trace; 0 when kiseki does not know it."""
    url = f"http://{HOST}:{query_port}/api/traces/{trace_id}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = json.load(response)["data"]
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return 0
        raise
    return sum(len(trace["spans"]) for trace in data)


def check_acknowledged(query_port, acked):
    """Every acknowledged trace has exactly its spans; returns the number checked."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = dict(zip(acked, pool.map(lambda t: fetch_span_count(query_port, t), acked)))
    missing = [t for t, n in found.items() if n == 0]
    wrong = [(t, n, acked[t]) for t, n in found.items() if n and n != acked[t]]
    if missing or wrong:
        raise AssertionError(
            f"{len(missing)} acknowledged traces missing (e.g. {missing[:3]}), "
            f"{len(wrong)} with the wrong span count (trace, found, sent: {wrong[:3]})"
        )
    return len(acked)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiseki", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=3.0, help="seconds of ingest before a kill")
    parser.add_argument(
        "--sample", type=int, default=500,
        help="traces verified in earlier rounds that are checked again after each restart",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="kiseki-crash-")
    data_dir = os.path.join(work, "data")
    log = open(os.path.join(work, "kiseki.log"), "w")
    otlp_port, query_port = free_port(), free_port()
    acked, lock = {}, threading.Lock()
    verified = set()
    started = time.time()
    try:
        for round_number in range(1, args.rounds + 1):
            server = start_server(args.kiseki, data_dir, otlp_port, query_port, log)
            # What the last kill put at risk in full, and a sample of everything before it.
            with lock:
                at_risk = {t: acked[t] for t in acked if t not in verified}
                older = rng.sample(sorted(verified), min(len(verified), args.sample))
            checked = check_acknowledged(query_port, {**at_risk, **{t: acked[t] for t in older}})
            verified.update(at_risk)
            stop = threading.Event()
            senders = [
                Sender(otlp_port, rng.getrandbits(64), acked, lock, stop) for _ in range(args.senders)
            ]
            for sender in senders:
                sender.start()
            time.sleep(rng.uniform(0.05, args.max_delay))
            server.send_signal(signal.SIGKILL)
            server.wait()
            stop.set()
            for sender in senders:
                sender.join()
            print(f"round {round_number}: {checked} acknowledged traces checked, now {len(acked)}",
                  flush=True)
        server = start_server(args.kiseki, data_dir, otlp_port, query_port, log)
        checked = check_acknowledged(query_port, acked)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        print(f"crash test passed: {args.rounds} kills, {checked} acknowledged traces all found "
              f"whole, {time.time() - started:.0f} s")
    except AssertionError as error:
        log.flush()
        print(f"crash test FAILED: {error}\nlast server log lines:", file=sys.stderr)
        with open(log.name) as f:
            print("".join(f.readlines()[-30:]), file=sys.stderr)
        sys.exit(1)
    finally:
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
