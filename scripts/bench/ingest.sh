#!/usr/bin/env bash
# Durable ingest through the receivers: `kiseki serve` on a fresh data directory and
# `kiseki loadgen` flat out on the same machine; prints acknowledged spans per second, the
# server's CPU (from /proc) and RSS, and how many spans compaction wrote again.
# usage: scripts/bench/ingest.sh [protocol] [seconds]   (build first: cargo build --release -p kiseki)
set -euo pipefail
protocol=${1:-otlp-grpc}
seconds=${2:-150}
kiseki=${KISEKI:-target/release/kiseki}
dir=$(mktemp -d /tmp/kiseki-ingest-XXXX)
trap 'rm -rf "$dir"' EXIT
query=127.0.0.1:16686
"$kiseki" serve --host 127.0.0.1 --data-dir "$dir/data" >"$dir/log" 2>&1 &
pid=$!
sleep 2
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
before=$(cpu_ticks)
"$kiseki" loadgen --protocol "$protocol" --duration "${seconds}s" --json >"$dir/report.json" 2>/dev/null
after=$(cpu_ticks)
curl -s "http://$query/metrics" >"$dir/metrics.txt" || true
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
kill "$pid"
wait "$pid" || true
python3 - "$dir" "$before" "$after" "$(getconf CLK_TCK)" "$rss" "$peak" "$seconds" <<'PY'
import json, re, sys
folder, before, after, tick, rss, peak, seconds = sys.argv[1:]
report = json.load(open(f"{folder}/report.json"))
metrics = open(f"{folder}/metrics.txt").read()
def metric(name):
    found = re.search(rf"^{name} (\S+)$", metrics, re.M)
    return int(float(found.group(1))) if found else None
cpu = (float(after) - float(before)) / float(tick)
acked = report["spans"]["acknowledged"]
print(json.dumps({
    "protocol": report["protocol"],
    "seconds": int(seconds),
    "spans_acknowledged": acked,
    "spans_throttled": report["spans"]["throttled"],
    "acknowledged_per_second": round(report["acknowledged_spans_per_second"]),
    "server_cpu_seconds": round(cpu, 1),
    "server_cores": round(cpu / float(seconds), 2),
    "spans_per_server_cpu_second": round(acked / cpu),
    "latency_ms": report["latency_ms"],
    "loadgen_cpu_seconds": report["cpu_seconds"],
    "server_rss_mib": {"end": int(rss) // 1024, "peak": int(peak) // 1024},
    "flushes": metric("kiseki_store_flushes_total"),
    "compactions": metric("kiseki_store_compactions_total"),
    "compacted_spans": metric("kiseki_store_compacted_spans_total"),
    "block_bytes": metric("kiseki_store_block_bytes"),
}, indent=1))
PY
