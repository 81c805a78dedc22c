#!/usr/bin/env python3
# venv: capture
"""Captures what each Python emitter sends and freezes it under testdata/tracers/python-<emitter>/.

    interop/python/run.sh record <emitter>...      capture these emitters again (all if none named)
    interop/python/run.sh record --check [...]     only check the frozen fixtures

The capture server listens on 127.0.0.2 (any loopback address works on Linux), so a recording can
run beside another capture server or a kiseki on 127.0.0.1; set CAPTURE_HOST to change it.

For each emitter: start interop/capture.py into a scratch folder, run the emitter, stop the capture
server, keep the requests that carry spans (plus the first Datadog /info and the smallest telemetry
request), write the emitter's JSON line as expected.json, then check that every span in
expected.json is in the captures with the same trace id, parent, name, service and error flag.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from _decode import spans_of

HERE = os.path.dirname(os.path.abspath(__file__))
INTEROP = os.path.dirname(HERE)
REPO = os.path.dirname(INTEROP)
FIXTURES = os.path.join(REPO, "testdata", "tracers")
NOT_EMITTERS = {"record"}
CAPTURE_HOST = os.environ.get("CAPTURE_HOST", "127.0.0.2")


def emitters():
    names = [os.path.basename(p)[:-3] for p in glob.glob(os.path.join(HERE, "*.py"))]
    return sorted(n for n in names if not n.startswith("_") and n not in NOT_EMITTERS)


def start_capture(out):
    proc = subprocess.Popen(
        [sys.executable, os.path.join(INTEROP, "capture.py"), "--out", out, "--host", CAPTURE_HOST],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ready = threading.Event()

    def pump():
        for line in proc.stdout:
            if "listening" in line:
                ready.set()
            elif line.strip() and not line.startswith("captured "):
                sys.stderr.write("capture: " + line)
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(20) or proc.poll() is not None:
        raise SystemExit("capture server did not start (ports busy?)")
    return proc


def wait_quiet(out, quiet=1.5, limit=15):
    """Waits until no new capture file has appeared for `quiet` seconds."""
    deadline = time.time() + limit
    last = -1
    stable_since = time.time()
    while time.time() < deadline:
        n = len(os.listdir(out))
        if n != last:
            last, stable_since = n, time.time()
        elif time.time() - stable_since >= quiet:
            return
        time.sleep(0.2)


def load(folder):
    """(stem, meta, body) of every capture in a folder, in capture order."""
    out = []
    for meta_path in sorted(glob.glob(os.path.join(folder, "[0-9][0-9][0-9]-*.json"))):
        stem = meta_path[:-5]
        with open(meta_path) as f:
            meta = json.load(f)
        with open(stem + ".body", "rb") as f:
            out.append((stem, meta, f.read()))
    return out


def keep(captures):
    """Stems of the requests worth freezing: those that carry spans, the first Datadog /info and
    the smallest telemetry request (an example of each; they carry no spans)."""
    kept, info, telemetry = [], [], []
    for stem, meta, body in captures:
        spans = spans_of(meta, body)
        if spans:
            kept.append(stem)
        elif spans is None and meta["port"] == 8126 and meta["path"] == "/info":
            info.append(stem)
        elif spans is None and meta["path"].startswith("/telemetry/"):
            telemetry.append((len(body), stem))
    kept += info[:1] + ([min(telemetry)[1]] if telemetry else [])
    return sorted(kept)


def check(folder):
    """Compares a fixture folder's captures with its expected.json: (spans expected, problems,
    notes). A span that names no service (a Zipkin v1 span without any annotation) is a note."""
    with open(os.path.join(folder, "expected.json")) as f:
        expected = json.load(f)
    seen = {}
    problems, notes = [], []
    for stem, meta, body in load(folder):
        spans = spans_of(meta, body)
        if spans is None:
            continue
        if not spans:
            problems.append(f"{os.path.basename(stem)}: carries no span")
        for s in spans:
            seen.setdefault((s["trace_id"], s["span_id"]), []).append(s)
    want = 0
    for trace in expected["traces"]:
        for e in trace["spans"]:
            want += 1
            got = seen.get((trace["trace_id"], e["span_id"]))
            if not got:
                problems.append(f"span {trace['trace_id']}/{e['span_id']} ({e['name']}) not captured")
                continue
            for s in got:
                for field in ("parent_span_id", "name", "service", "error"):
                    if field == "service" and s[field] is None:
                        notes.append(f"span {e['span_id']} ({e['name']}): no endpoint, so no service")
                    elif s[field] != e[field]:
                        problems.append(f"span {e['span_id']} ({e['name']}): {field} is "
                                        f"{s[field]!r} in the capture, {e[field]!r} expected")
    extra = sum(len(v) for v in seen.values()) - want
    if extra:
        problems.append(f"{extra} captured span record(s) beyond expected.json (shared or repeated spans)")
    return want, problems, notes


def record(name):
    folder = os.path.join(FIXTURES, f"python-{name}")
    scratch = tempfile.mkdtemp(prefix=f"capture-{name}-")
    capture = start_capture(scratch)
    try:
        env = dict(os.environ, KISEKI_HOST=CAPTURE_HOST)
        run = subprocess.run([os.path.join(HERE, "run.sh"), name], capture_output=True, text=True,
                             timeout=180, env=env)
        wait_quiet(scratch)
    finally:
        capture.send_signal(signal.SIGTERM)
        try:
            capture.wait(10)
        except subprocess.TimeoutExpired:
            capture.kill()
    if run.returncode != 0:
        sys.stderr.write(run.stderr)
        raise SystemExit(f"{name}: emitter exited {run.returncode}")
    lines = run.stdout.splitlines()
    if len(lines) != 1 or not lines[0].startswith("{"):
        sys.stderr.write(run.stdout + run.stderr)
        raise SystemExit(f"{name}: expected exactly one JSON line on stdout")
    captures = load(scratch)
    kept = keep(captures)
    if not kept:
        sys.stderr.write(run.stderr)
        raise SystemExit(f"{name}: nothing that carries spans was captured")
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    for stem in kept:
        for ext in (".body", ".json"):
            shutil.copy(stem + ext, os.path.join(folder, os.path.basename(stem) + ext))
    with open(os.path.join(folder, "expected.json"), "w") as f:
        f.write(lines[0] + "\n")
    shutil.rmtree(scratch)
    if run.stderr.strip():
        sys.stderr.write(f"--- {name} stderr ---\n{run.stderr}\n")
    return len(captures), len(kept)


def main(argv):
    only_check = "--check" in argv
    names = [a for a in argv if not a.startswith("--")] or None
    if only_check:
        folders = ([os.path.join(FIXTURES, f"python-{n}") for n in names] if names
                   else sorted(glob.glob(os.path.join(FIXTURES, "python-*"))))
    else:
        folders = []
        for name in names or emitters():
            total, kept = record(name)
            print(f"{name}: {total} requests captured, {kept} kept", flush=True)
            folders.append(os.path.join(FIXTURES, f"python-{name}"))
    failed = 0
    for folder in folders:
        want, problems, notes = check(folder)
        status = "ok" if not problems else "PROBLEMS"
        print(f"{os.path.basename(folder)}: {want} spans expected: {status}")
        for p in problems:
            print(f"    {p}")
        for n in notes:
            print(f"    note: {n}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
