"""Loads the export into a running ClickHouse 18.16 server and measures it: insert rate, bytes per
span, trace-by-id and search latency. Started by clickhouse.sh, which owns the server; this file
only talks to it over HTTP on loopback. Standard library only.

Latency is measured on the client: from sending the query to having read the whole answer, over
one kept-alive HTTP/1.1 connection (Python's http.client), queries one after another."""

import argparse
import http.client
import json
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as common  # noqa: E402


class Server:
    """One kept-alive HTTP connection to the server."""

    def __init__(self, port):
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)

    def query(self, sql, body=None, **settings):
        """Runs one statement; returns the answer's bytes. With `body`, the statement goes in the
        URL and the body is the data (an INSERT)."""
        params = dict(settings)
        if body is not None:
            params["query"] = sql
            payload = body
        else:
            payload = sql.encode()
        path = "/?" + urllib.parse.urlencode(params) if params else "/"
        try:
            self.connection.request("POST", path, body=payload)
            response = self.connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            # The server closes idle kept-alive connections after a few seconds.
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
            self.connection.request("POST", path, body=payload)
            response = self.connection.getresponse()
            data = response.read()
        if response.status != 200:
            raise RuntimeError(f"clickhouse answered {response.status}: {data.decode()[:2000]}")
        return data

    def rows(self, sql):
        text = self.query(sql + " FORMAT TabSeparated").decode()
        return [line.split("\t") for line in text.splitlines()]


def apply_schema(server, path):
    with open(path) as f:
        sql = re.sub(r"--[^\n]*", "", f.read())
    for statement in (s.strip() for s in sql.split(";")):
        if statement:
            server.query(statement)


def process_cpu_seconds(pid):
    """User + system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trace_by_id_sql(trace_id):
    binary = f"toFixedString(unhex('{trace_id}'), 16)"
    return (
        f"SELECT * FROM spans WHERE trace_id = {binary}"
        f" AND start_time_unix_nano >= (SELECT min(first_start_unix_nano) FROM trace_index WHERE id = {binary})"
        f" AND start_time_unix_nano <= (SELECT max(last_end_unix_nano) FROM trace_index WHERE id = {binary})"
        " FORMAT TabSeparated"
    )


SPAN_FILTERS = ("service", "operation", "attributes", "min_duration_ns")


def search_sql(search, limit):
    start, end = search["window"]
    summary = (
        "SELECT lower(hex(id)), min(first_start_unix_nano) AS start,"
        " max(last_end_unix_nano) - min(first_start_unix_nano), sum(span_count), sum(error_count),"
        " anyIf(root_service_name, root_service_name != ''), anyIf(root_name, root_name != ''),"
        " groupUniqArrayArray(service_names)"
        " FROM trace_index WHERE id IN ({}) GROUP BY id ORDER BY start DESC FORMAT TabSeparated"
    )
    if not any(key in search for key in SPAN_FILTERS):
        # Nothing asked of a single span: the trace-level table answers alone.
        # A trace split across insert batches has a row per batch, hence the GROUP BY.
        errors = " HAVING sum(error_count) > 0" if search.get("errors_only") else ""
        return summary.format(
            "SELECT id FROM trace_index"
            f" WHERE first_start_unix_nano >= {start} AND first_start_unix_nano <= {end}"
            f" GROUP BY id{errors} ORDER BY min(first_start_unix_nano) DESC LIMIT {limit}"
        )
    conditions = [f"start_time_unix_nano >= {start}", f"start_time_unix_nano <= {end}"]
    if "service" in search:
        conditions.append(f"service_name = {common.sql_string(search['service'])}")
    if "operation" in search:
        conditions.append(f"name = {common.sql_string(search['operation'])}")
    for key, value in search.get("attributes", {}).items():
        conditions.append(
            f"attribute_values[indexOf(attribute_keys, {common.sql_string(key)})]"
            f" = {common.sql_string(value)}"
        )
    if "min_duration_ns" in search:
        conditions.append(f"duration_nano >= {search['min_duration_ns']}")
    if search.get("errors_only"):
        conditions.append("status_code = 'ERROR'")
    matching = (
        "SELECT trace_id FROM (SELECT trace_id, max(start_time_unix_nano) AS latest FROM spans"
        f" WHERE {' AND '.join(conditions)} GROUP BY trace_id ORDER BY latest DESC LIMIT {limit})"
    )
    return summary.format(matching)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="the server's HTTP port")
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--data-dir", required=True, help="the server's data directory")
    parser.add_argument("--tsv", required=True, help="the export, --format tsv")
    parser.add_argument("--stats", required=True, help="the export's --stats JSON")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=200, help="trace-by-id lookups")
    parser.add_argument("--search-rounds", type=int, default=20, help="runs of each search")
    parser.add_argument("--limit", type=int, default=20, help="traces per search")
    parser.add_argument("--results", help="write the figures here as JSON")
    args = parser.parse_args()
    began = time.monotonic()
    stats = common.load_export_stats(args.stats)
    server = Server(args.port)
    version = server.query("SELECT version()").decode().strip()
    common.log(f"clickhouse {version} on 127.0.0.1:{args.port}")
    apply_schema(server, args.schema)

    with common.PeakDisk(args.data_dir) as disk:
        common.log(f"inserting {stats['spans']:,} spans in batches of {args.batch_rows:,} rows")
        cpu_before = process_cpu_seconds(args.server_pid)
        insert_started = time.monotonic()
        inserted = 0
        for rows, batch in common.tsv_batches(args.tsv, args.batch_rows):
            server.query("INSERT INTO spans_input FORMAT TabSeparated", body=batch)
            inserted += rows
            if inserted % (args.batch_rows * 20) == 0:
                rate = inserted / (time.monotonic() - insert_started)
                common.log(f"  {inserted:,} spans, {rate:,.0f} spans/s")
        insert_seconds = time.monotonic() - insert_started
        insert_cpu = process_cpu_seconds(args.server_pid) - cpu_before
        common.log(f"inserted in {insert_seconds:.1f} s; optimize final")
        optimize_started = time.monotonic()
        # 18.16 merges one partition per OPTIMIZE, so each is named.
        for table, partition in server.rows(
            "SELECT DISTINCT table, partition_id FROM system.parts"
            " WHERE active AND database = currentDatabase()"
        ):
            server.query(f"OPTIMIZE TABLE {table} PARTITION ID '{partition}' FINAL")
        optimize_seconds = time.monotonic() - optimize_started
    stored = int(server.rows("SELECT count() FROM spans")[0][0])
    if stored != stats["spans"]:
        raise SystemExit(f"stored {stored} spans, the export has {stats['spans']}")

    sizes = {
        table: dict(zip(("parts", "rows", "compressed", "uncompressed", "on_disk"), map(int, row)))
        for table, *row in server.rows(
            "SELECT table, count(), sum(rows), sum(data_compressed_bytes),"
            " sum(data_uncompressed_bytes), sum(bytes) FROM system.parts"
            " WHERE active AND database = currentDatabase() GROUP BY table"
        )
    }
    columns = server.rows(
        "SELECT name, data_compressed_bytes FROM system.columns"
        " WHERE database = currentDatabase() AND table = 'spans' ORDER BY data_compressed_bytes DESC"
    )
    spans_bytes = sizes["spans"]["on_disk"]
    all_bytes = sum(size["on_disk"] for size in sizes.values())

    # Trace by id. The first lookups are checked against the lookup table's span count.
    trace_ids = stats["sample_trace_ids"][: args.lookups]
    for trace_id in trace_ids[:20]:
        expected = server.rows(
            f"SELECT sum(span_count) FROM trace_index WHERE id = toFixedString(unhex('{trace_id}'), 16)"
        )[0][0]
        got = server.query(trace_by_id_sql(trace_id)).count(b"\n")
        if str(got) != expected:
            raise SystemExit(f"trace {trace_id}: {got} spans, expected {expected}")
    timings = []
    for trace_id in trace_ids:
        sql = trace_by_id_sql(trace_id)
        started = time.perf_counter()
        server.query(sql)
        timings.append(time.perf_counter() - started)
    trace_by_id = common.latency_summary(timings)
    common.log(f"trace by id: {trace_by_id}")

    # Searches, round-robin so no search keeps the caches to itself.
    user_id = common.first_user_id(args.tsv)
    plan = common.searches(stats, user_id)
    each = {search["name"]: [] for search in plan}
    found = {}
    for _ in range(args.search_rounds):
        for search in plan:
            sql = search_sql(search, args.limit)
            started = time.perf_counter()
            answer = server.query(sql)
            each[search["name"]].append(time.perf_counter() - started)
            found[search["name"]] = answer.count(b"\n")
    all_timings = [t for samples in each.values() for t in samples]
    search = {
        "all": common.latency_summary(all_timings),
        "each": {
            name: dict(common.latency_summary(samples), traces_found=found[name])
            for name, samples in each.items()
        },
    }
    example = server.query(search_sql(plan[1], 3)).decode()
    common.log(f"search example ({plan[1]['name']}):\n{example}")

    result = {
        "engine": f"ClickHouse {version} (Debian clickhouse-server), HTTP on loopback",
        "spans": stats["spans"],
        "traces": stats["traces"],
        "otlp_bytes_per_span": stats["otlp_bytes_per_span"],
        "insert": {
            "seconds": round(insert_seconds, 2),
            "spans_per_s": round(stats["spans"] / insert_seconds),
            "batch_rows": args.batch_rows,
            "server_cpu_s": round(insert_cpu, 1),
            "spans_per_cpu_s": round(stats["spans"] / insert_cpu) if insert_cpu else None,
        },
        "optimize_seconds": round(optimize_seconds, 2),
        "size": {
            "tables": sizes,
            "spans_table_bytes_per_span": spans_bytes / stats["spans"],
            "all_tables_bytes_per_span": all_bytes / stats["spans"],
            "spans_columns_compressed": {name: int(size) for name, size in columns},
        },
        "trace_by_id": trace_by_id,
        "search": search,
        "peak_disk_bytes": disk.peak,
        "export_bytes": os.path.getsize(args.tsv),
        "run_seconds": round(time.monotonic() - began, 1),
        "load_average_at_end": os.getloadavg(),
    }
    if args.results:
        with open(args.results, "w") as f:
            json.dump(result, f, indent=2)
    common.print_report(result)


if __name__ == "__main__":
    main()
