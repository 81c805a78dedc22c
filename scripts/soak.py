#!/usr/bin/env python3
"""Soak: ingest at a fixed rate for a long time and watch the server's memory.

Starts `kiseki serve` on a fresh data directory (embedded store), runs `kiseki loadgen` against it
at `--rate` spans/s for `--duration`, and samples the server's resident memory every few seconds.
Memory must level off: the script fails when the last quarter of the run grew by more than
`--max-growth` over the second quarter (after the head, blocks and caches have filled).

Usage: scripts/soak.py --kiseki target/release/kiseki [--rate 20000] [--duration 600]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HOST = "127.0.0.1"


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiseki", required=True)
    parser.add_argument("--rate", type=int, default=20_000, help="spans per second")
    parser.add_argument("--duration", type=int, default=600, help="seconds")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--max-growth", type=float, default=0.10)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kiseki-soak-")
    grpc, query = free_port(), free_port()
    log = open(os.path.join(work, "kiseki.log"), "w")
    server = subprocess.Popen(
        [args.kiseki, "serve", "--host", HOST, "--data-dir", os.path.join(work, "data"),
         "--otlp-grpc-addr", str(grpc), "--query-addr", str(query), "--otlp-http-addr", "off",
         "--zipkin-addr", "off", "--jaeger-compact-addr", "off", "--jaeger-binary-addr", "off",
         "--jaeger-http-addr", "off", "--jaeger-grpc-addr", "off", "--datadog-addr", "off"],
        stdout=log, stderr=log,
    )
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://{HOST}:{query}/metrics", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        loadgen = subprocess.Popen(
            [args.kiseki, "loadgen", "--protocol", "otlp-grpc", "--target", f"{HOST}:{grpc}",
             "--rate", str(args.rate), "--duration", f"{args.duration}s", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        samples = []
        started = time.time()
        cpu_start = cpu_seconds(server.pid)
        while loadgen.poll() is None:
            time.sleep(args.every)
            samples.append((time.time() - started, rss_mib(server.pid)))
            print(f"{samples[-1][0]:6.0f} s  rss {samples[-1][1]:7.1f} MiB", flush=True)
        cpu = cpu_seconds(server.pid) - cpu_start
        report = json.loads(loadgen.stdout.read() or "{}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    quarter = max(1, len(samples) // 4)
    second = sum(r for _, r in samples[quarter:2 * quarter]) / quarter
    last = sum(r for _, r in samples[-quarter:]) / quarter
    growth = (last - second) / second if second else 0.0
    print(json.dumps({
        "rate": args.rate, "duration_s": args.duration, "spans": report.get("spans"), "acked_spans_per_s": report.get("acknowledged_spans_per_second"),
        "server_cpu_s": round(cpu, 1), "rss_mib_min": round(min(r for _, r in samples), 1),
        "rss_mib_max": round(max(r for _, r in samples), 1), "rss_mib_second_quarter": round(second, 1),
        "rss_mib_last_quarter": round(last, 1), "growth": round(growth, 3),
    }, indent=1))
    shutil.rmtree(work, ignore_errors=True)
    if growth > args.max_growth:
        print(f"soak FAILED: memory grew {growth:.1%} from the second to the last quarter", file=sys.stderr)
        sys.exit(1)
    print("soak passed: memory levelled off")


if __name__ == "__main__":
    main()
