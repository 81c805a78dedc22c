#!/usr/bin/env python3
"""Query latency of a running kiseki: the web UI's page and assets, and the native, Jaeger and
Zipkin query APIs, each request repeated and reported as p50 / p99 / max in milliseconds.

Fill a server first (for the 10 M-span figures in BENCHMARKS.md):

    target/release/kiseki serve --host 127.0.0.1 --data-dir /tmp/kiseki-10m &
    target/release/kiseki loadgen --protocol otlp-grpc --spans 10000000
    scripts/bench/query_bench.py --url http://127.0.0.1:16686 --rounds 20

Standard library only."""

import argparse
import json
import re
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request


def fetch(url):
    """(status, body bytes, milliseconds) of one GET."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body = error.read()
        status = error.code
    return status, body, (time.perf_counter() - started) * 1000


def fetch_json(url):
    status, body, _ = fetch(url)
    if status != 200:
        raise SystemExit(f"GET {url} answered {status}: {body[:300]!r}")
    return json.loads(body)


def page_with_assets(base, path):
    """Milliseconds to fetch a page and every asset it and its modules reference, one at a time
    (a browser would fetch some in parallel, so this is an upper bound), and the bytes."""
    seen, queue, total_ms, total_bytes = set(), [path], 0.0, 0
    while queue:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        status, body, ms = fetch(base + current)
        if status != 200:
            raise SystemExit(f"GET {current} answered {status}")
        total_ms += ms
        total_bytes += len(body)
        text = body.decode("utf-8", "replace")
        for found in re.findall(r"""(?:src|href)=["'](/ui/[^"']+)["']""", text):
            queue.append(found)
        if current.endswith(".js"):
            folder = current.rsplit("/", 1)[0]
            for found in re.findall(r"""(?:import|from)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""", text):
                queue.append(urllib.parse.urljoin(folder + "/", found))
    return total_ms, total_bytes, len(seen)


def measure(rounds, request):
    """Runs `request()` (which returns milliseconds) `rounds` times."""
    timings = sorted(request() for _ in range(rounds))
    p99 = timings[min(len(timings) - 1, int(round(0.99 * (len(timings) - 1))))]
    return statistics.median(timings), p99, timings[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:16686", help="the query port")
    parser.add_argument("--zipkin-url", default="http://127.0.0.1:9411", help="Zipkin's port")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--lookback", default="6h", help="search window of every search")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    base, native = args.url.rstrip("/"), args.url.rstrip("/") + "/api/kiseki/v1"
    lookback_us = int(parse_go_duration(args.lookback) * 1e6)

    services = [s["name"] for s in fetch_json(native + "/services")["services"]]
    if not services:
        raise SystemExit("the server holds no traces; fill it first")
    service = "checkout" if "checkout" in services else services[0]
    operations = fetch_json(f"{native}/services/{urllib.parse.quote(service)}/operations")
    operation = operations["operations"][0]["name"]
    found = fetch_json(f"{native}/search?lookback={args.lookback}&limit=200")["traces"]
    trace_ids = [t["traceId"] for t in found]
    if not trace_ids:
        raise SystemExit("no trace found in the lookback window")
    cycle = {"i": 0}

    def next_trace_id():
        cycle["i"] += 1
        return trace_ids[cycle["i"] % len(trace_ids)]

    def timed(url_of):
        def request():
            url = url_of()
            status, body, ms = fetch(url)
            if status != 200:
                raise SystemExit(f"GET {url} answered {status}: {body[:300]!r}")
            return ms
        return request

    q = urllib.parse.quote
    searches = {
        "native search: anything": f"lookback={args.lookback}&limit=20",
        "native search: service": f"service={q(service)}&lookback={args.lookback}&limit=20",
        "native search: service + operation":
            f"service={q(service)}&operation={q(operation)}&lookback={args.lookback}&limit=20",
        "native search: http.response.status_code=500":
            f"attr={q('http.response.status_code=500')}&lookback={args.lookback}&limit=20",
        "native search: errors only": f"errorsOnly=true&lookback={args.lookback}&limit=20",
        "native search: min duration 500 ms":
            f"minDuration=500ms&lookback={args.lookback}&limit=20",
    }
    cases = [("UI: /search shell", timed(lambda: base + "/search"))]
    cases.append(("native: services", timed(lambda: native + "/services")))
    cases += [(name, timed(lambda query=query: f"{native}/search?{query}"))
              for name, query in searches.items()]
    cases += [
        ("native: trace by id", timed(lambda: f"{native}/traces/{next_trace_id()}")),
        ("Jaeger: /api/services", timed(lambda: base + "/api/services")),
        ("Jaeger: search service", timed(
            lambda: f"{base}/api/traces?service={q(service)}&lookback={args.lookback}&limit=20")),
        ("Jaeger: trace by id", timed(lambda: f"{base}/api/traces/{next_trace_id()}")),
        ("Zipkin (9411): search service", timed(
            lambda: f"{args.zipkin_url}/api/v2/traces?serviceName={q(service)}"
                    f"&lookback={lookback_us // 1000}&limit=20")),
        ("Zipkin (9411): trace by id",
         timed(lambda: f"{args.zipkin_url}/api/v2/trace/{next_trace_id()}")),
    ]
    _, page_bytes, files = page_with_assets(base, "/search")
    p50, p99, worst = measure(args.rounds, lambda: page_with_assets(base, "/search")[0])
    results = [{"what": f"UI: /search and every asset ({files} files, {page_bytes} B)",
                "p50_ms": p50, "p99_ms": p99, "max_ms": worst}]
    for name, request in cases:
        p50, p99, worst = measure(args.rounds, request)
        results.append({"what": name, "p50_ms": p50, "p99_ms": p99, "max_ms": worst})
    if args.json:
        print(json.dumps(results, indent=1))
        return
    print("| request | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['what']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} |")


def parse_go_duration(text):
    """Seconds in a Go-style duration such as `6h`, `90m` or `1h30m`."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise SystemExit(f"--lookback {text!r} is not a duration like 6h or 90m")
    return sum(float(n) * units[u] for n, u in parts)


if __name__ == "__main__":
    main()
