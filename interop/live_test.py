#!/usr/bin/env python3
"""Runs real tracer libraries against a fresh `kiseki serve` and reads every trace back.

For each emitter (interop/python/*.py and interop/node/*.js) the test runs it against kiseki on
127.0.0.1, takes the spans it reports on stdout, fetches each trace from kiseki's Jaeger-style
`GET /api/traces/{id}` and checks that every span arrived with its id, parent, service, name and
error flag. The cross-format trace (OTel → Zipkin v1 → ddtrace) must come back as one tree.
Finally kiseki's /metrics must show the spans under each receiver, and kiseki must stop cleanly.

Usage: interop/live_test.py --kiseki target/debug/kiseki [emitter ...]
Needs interop/setup-python.sh and interop/setup-node.sh to have run.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
HOST = "127.0.0.1"
QUERY = f"http://{HOST}:16686"

# Datadog tracers lower-case nothing, zipkin-js lower-cases span and service names.
CASE_INSENSITIVE_NAMES = ("zipkin-js",)


def emitters():
    found = []
    for name in sorted(os.listdir(os.path.join(HERE, "python"))):
        if name.endswith(".py") and not name.startswith(("_", "propagation")) and name != "record.py":
            found.append(("python", name[:-3]))
    for name in sorted(os.listdir(os.path.join(HERE, "node"))):
        if name.endswith(".js") and not name.startswith("propagation"):
            found.append(("node", name[:-3]))
    return found


def run_emitter(kind, name):
    env = dict(os.environ, KISEKI_HOST=HOST)
    if kind == "python":
        command = [os.path.join(HERE, "python", "run.sh"), name]
    else:
        command = ["node", os.path.join(HERE, "node", name + ".js")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"{kind}/{name} exited {result.returncode}: {result.stderr[-2000:]}")
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise AssertionError(f"{kind}/{name} printed no JSON line: {result.stdout[-500:]}")
    return json.loads(lines[-1])


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def fetch_trace(trace_id, want_spans, deadline_seconds=15):
    """Polls until the trace has at least `want_spans` spans: UDP and async exporters lag."""
    deadline = time.time() + deadline_seconds
    while True:
        status, body = get_json(f"{QUERY}/api/traces/{trace_id}")
        spans = []
        if status == 200:
            trace = body["data"][0]
            processes = trace["processes"]
            for span in trace["spans"]:
                parents = [r["spanID"] for r in span.get("references") or [] if r["refType"] == "CHILD_OF"]
                tags = {t["key"]: t["value"] for t in span.get("tags") or []}
                spans.append({
                    "span_id": span["spanID"],
                    "parent_span_id": parents[0] if parents else None,
                    "name": span["operationName"],
                    "service": processes[span["processID"]]["serviceName"],
                    "error": tags.get("error") is True,
                })
        if len(spans) >= want_spans or time.time() > deadline:
            return spans
        time.sleep(0.3)


def check_trace(emitter, expected):
    want = expected["spans"]
    got = fetch_trace(expected["trace_id"], len(want))
    problems = []
    if len(got) != len(want):
        problems.append(f"expected {len(want)} spans, read back {len(got)}")
    by_id = {}
    for span in got:
        by_id.setdefault(span["span_id"], []).append(span)
    fold = (lambda s: s.lower()) if emitter.startswith(CASE_INSENSITIVE_NAMES) else (lambda s: s)
    # A span id reported twice is a Zipkin shared span: client and server halves. kiseki gives the
    # server half a new id whose parent is the shared id, and the server's children move under it.
    reported = [span["span_id"] for span in want]
    shared = {sid for sid in reported if reported.count(sid) > 1}
    server_half = {}
    for sid in shared:
        servers = [s for s in got if s["parent_span_id"] == sid and s["span_id"] != sid
                   and s["span_id"] not in reported]
        if len(servers) != 1:
            problems.append(f"shared span {sid}: expected one server half, found {len(servers)}")
        else:
            server_half[sid] = servers[0]
    seen = set()
    for span in want:
        sid = span["span_id"]
        if sid in seen:
            match = server_half.get(sid)
            if match is None:
                continue
        else:
            seen.add(sid)
            matches = [s for s in by_id.get(sid, []) if fold(s["name"]) == fold(span["name"])]
            if not matches:
                problems.append(f"span {sid} {span['name']!r} not found (have {[s['name'] for s in by_id.get(sid, [])]})")
                continue
            match = matches[0]
        # The server half hangs under the client half, whose id it shared.
        allowed_parents = {sid} if match is server_half.get(sid) else {span["parent_span_id"]}
        if span["parent_span_id"] in server_half:
            allowed_parents.add(server_half[span["parent_span_id"]]["span_id"])
        if match["parent_span_id"] not in allowed_parents:
            problems.append(f"span {sid} {span['name']!r}: parent is {match['parent_span_id']!r}, expected {span['parent_span_id']!r}")
        if fold(match["service"]) != fold(span["service"]):
            problems.append(f"span {sid} {span['name']!r}: service is {match['service']!r}, expected {span['service']!r}")
        if match["error"] != span["error"]:
            problems.append(f"span {sid} {span['name']!r}: error is {match['error']}, expected {span['error']}")
    return problems


def check_stitched(expected):
    """One trace across three tracers and formats must form one tree over three services."""
    trace = expected["traces"][0]
    got = fetch_trace(trace["trace_id"], len(trace["spans"]))
    services = {span["service"] for span in got}
    problems = check_trace("stitched", trace)
    if not {"frontend", "legacy-cart", "payments"} <= services:
        problems.append(f"services are {sorted(services)}")
    ids = {span["span_id"] for span in got}
    roots = [span for span in got if span["parent_span_id"] is None]
    orphans = [span for span in got if span["parent_span_id"] and span["parent_span_id"] not in ids]
    if len(roots) != 1 or orphans:
        problems.append(f"{len(roots)} roots and orphans {orphans}: not one tree")
    return problems


def wait_ready(process):
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"kiseki exited early with {process.returncode}")
        try:
            urllib.request.urlopen(f"{QUERY}/metrics", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("kiseki did not start within 60 s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiseki", required=True, help="path to the kiseki binary")
    parser.add_argument("only", nargs="*", help="emitters to run (default: all)")
    args = parser.parse_args()

    selected = [(k, n) for k, n in emitters() if not args.only or n in args.only or f"{k}-{n}" in args.only]
    log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "kiseki-live-test.log"), "w")
    data_dir = tempfile.mkdtemp(prefix="kiseki-live-test-")
    kiseki = subprocess.Popen(
        [args.kiseki, "serve", "--host", HOST, "--data-dir", data_dir],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    failures = []
    try:
        wait_ready(kiseki)
        for kind, name in selected:
            label = f"{kind}-{name}"
            report = {"traces": []}
            try:
                report = run_emitter(kind, name)
                if name == "stitched":
                    problems = check_stitched(report)
                else:
                    problems = [p for trace in report["traces"] for p in check_trace(label, trace)]
            except Exception as error:  # one broken emitter must not hide the others
                problems = [f"{type(error).__name__}: {error}"]
            spans = sum(len(t["spans"]) for t in report["traces"]) if not problems else 0
            print(f"{'ok  ' if not problems else 'FAIL'} {label}" + (f" ({spans} spans)" if spans else ""))
            for problem in problems:
                print(f"       {problem}")
            if problems:
                failures.append(label)
        metrics = urllib.request.urlopen(f"{QUERY}/metrics", timeout=5).read().decode()
        for receiver in ("otlp_grpc", "otlp_http", "zipkin", "jaeger_http", "datadog"):
            if f'kiseki_receiver_spans_total{{receiver="{receiver}"' not in metrics and not args.only:
                failures.append(f"metrics: no spans counted for {receiver}")
                print(f"FAIL metrics show no spans for {receiver}")
    finally:
        kiseki.send_signal(signal.SIGTERM)
        try:
            code = kiseki.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kiseki.kill()
            code = "killed"
        if code != 0:
            failures.append(f"kiseki exit status {code}")
            print(f"FAIL kiseki did not stop cleanly: {code}")
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"{len(selected) - len([f for f in failures if not f.startswith(('metrics', 'kiseki'))])}/{len(selected)} emitters passed")
    if failures:
        print("kiseki log: " + log.name)
        sys.exit(1)


if __name__ == "__main__":
    main()
