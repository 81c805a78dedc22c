"""What the ClickHouse storage benchmarks share: the searches, the trace ids to look up, the
statistics and the report, so both engines are measured on the same questions. Standard library
only (the 18.16 driver runs on the system Python)."""

import ast
import json
import os
import statistics
import sys
import threading
import time

HOUR_NS = 3600 * 1_000_000_000


def load_export_stats(path):
    """The `--stats` JSON the export example wrote beside the spans."""
    with open(path) as f:
        return json.load(f)


def first_user_id(tsv_path):
    """`app.user.id` of the first span that has one: a needle for the attribute search."""
    with open(tsv_path, encoding="utf-8") as f:
        names = f.readline().rstrip("\n").split("\t")
        keys_at, values_at = names.index("attribute_keys"), names.index("attribute_values")
        for line in f:
            fields = line.rstrip("\n").split("\t")
            # ClickHouse's array literal of plain strings is also a Python literal.
            keys = ast.literal_eval(fields[keys_at])
            if "app.user.id" in keys:
                return ast.literal_eval(fields[values_at])[keys.index("app.user.id")]
    raise SystemExit(f"no span in {tsv_path} has app.user.id")


def searches(stats, user_id):
    """The fixed set of searches, with time windows relative to the end of the data.

    Semantics (Jaeger's): one span must match every condition (service, operation, attributes,
    duration, error) and start inside the window; the result is the `limit` traces with the
    latest matching span, each summarised from all its spans (root service and operation, start,
    duration, span count, error count, services)."""
    end = stats["last_end_unix_nano"]
    first = stats["first_start_unix_nano"]
    last_hour = (end - HOUR_NS, end)
    everything = (first, end)
    return [
        dict(name="service + operation, last hour", service="frontend",
             operation="GET /api/products/{productId}", window=last_hour),
        dict(name="service + http.response.status_code=500, last hour", service="frontend",
             attributes={"http.response.status_code": "500"}, window=last_hour),
        dict(name="service + min duration 100 ms, last hour", service="frontend",
             min_duration_ns=100_000_000, window=last_hour),
        dict(name="errors only, last hour", errors_only=True, window=last_hour),
        dict(name="anything, last hour", window=last_hour),
        dict(name="service + operation, all data", service="checkout",
             operation="oteldemo.CheckoutService/PlaceOrder", window=everything),
        dict(name="db.system=postgresql + min duration 20 ms, all data", service="product-catalog",
             attributes={"db.system": "postgresql"}, min_duration_ns=20_000_000,
             window=everything),
        dict(name=f"app.user.id={user_id} (one trace), all data", service="frontend",
             attributes={"app.user.id": user_id}, window=everything),
    ]


def sql_string(text):
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def percentile(samples, p):
    """The p-th percentile (0-100) by the nearest-rank method."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def latency_summary(samples_s):
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def disk_usage(path):
    """Bytes allocated under a directory, as `du` counts them."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                pass  # a part merged away while walking
    return total


class PeakDisk:
    """Samples a directory's size every second in the background; `peak` is the largest seen."""

    def __init__(self, path):
        self.path, self.peak, self._stop = path, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, disk_usage(self.path))

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, disk_usage(self.path))
            self._stop.wait(1.0)


def tsv_batches(path, rows_per_batch):
    """The export's data rows (header skipped) in batches of `rows_per_batch` rows, as bytes."""
    with open(path, "rb") as f:
        f.readline()
        pending, count, tail = [], 0, b""
        while True:
            block = f.read(64 << 20)
            if not block:
                break
            lines = (tail + block).split(b"\n")
            tail = lines.pop()
            for line in lines:
                pending.append(line)
                count += 1
                if count == rows_per_batch:
                    yield count, b"\n".join(pending) + b"\n"
                    pending, count = [], 0
        if tail:
            pending.append(tail)
            count += 1
        if pending:
            yield count, b"\n".join(pending) + b"\n"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def print_report(result):
    """The figures as readable lines on stdout; the JSON goes to the results file."""
    print(f"engine: {result['engine']}")
    print(f"spans: {result['spans']:,} ({result['traces']:,} traces)")
    ins = result["insert"]
    print(f"insert: {ins['seconds']:.1f} s, {ins['spans_per_s']:,.0f} spans/s "
          f"(batches of {ins['batch_rows']:,} rows; server CPU {ins.get('server_cpu_s', 'n/a')} s)")
    print(f"optimize final: {result['optimize_seconds']:.1f} s")
    size = result["size"]
    print(f"bytes per span: {size['spans_table_bytes_per_span']:.1f} (spans table), "
          f"{size['all_tables_bytes_per_span']:.1f} (with lookup tables), "
          f"OTLP protobuf {result['otlp_bytes_per_span']:.1f} "
          f"(ratio {size['all_tables_bytes_per_span'] / result['otlp_bytes_per_span']:.3f})")
    t = result["trace_by_id"]
    print(f"trace by id: p50 {t['p50_ms']} ms, p99 {t['p99_ms']} ms over {t['n']} lookups")
    s = result["search"]
    print(f"search: p50 {s['all']['p50_ms']} ms, p99 {s['all']['p99_ms']} ms over {s['all']['n']} runs")
    for name, figures in s["each"].items():
        print(f"  {name}: p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
              f"{figures['traces_found']} traces")
    print(f"peak disk: {result['peak_disk_bytes'] / 1e9:.2f} GB of data dir "
          f"(+ {result['export_bytes'] / 1e9:.2f} GB export file)")
    print(f"run time: {result['run_seconds']:.0f} s; load average at the end "
          f"{', '.join(f'{x:.2f}' for x in result['load_average_at_end'])} "
          f"({os.cpu_count()} cores; other work on the machine moves every figure)")
