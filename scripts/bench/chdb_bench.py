"""Loads the export into today's ClickHouse engine through chdb (in process, data in a directory),
in the OpenTelemetry Collector exporter's trace schema (chdb-otel-schema.sql), and measures it:
insert rate, bytes per span, trace-by-id and search latency. Run by chdb.sh, which makes the venv
and the temporary data directory.

Latency is measured around each chdb query call until its whole answer is in Python: in process,
so no network or HTTP is counted (the 18.16 figures include a loopback HTTP round trip)."""

import argparse
import json
import os
import re
import resource
import sys
import time

from chdb import session as chdb_session

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as common  # noqa: E402

# The export's columns, for reading it with file().
EXPORT_STRUCTURE = ", ".join(
    [
        "trace_id String", "span_id String", "parent_span_id String", "trace_state String",
        "name String", "kind String", "service_name String", "start_time_unix_nano UInt64",
        "duration_nano UInt64", "status_code String", "status_message String",
        "attribute_keys Array(String)", "attribute_values Array(String)",
        "resource_keys Array(String)", "resource_values Array(String)", "scope_name String",
        "scope_version String", "event_times_unix_nano Array(UInt64)",
        "event_names Array(String)", "event_attribute_keys Array(Array(String))",
        "event_attribute_values Array(Array(String))", "link_trace_ids Array(String)",
        "link_span_ids Array(String)", "link_trace_states Array(String)",
        "link_attribute_keys Array(Array(String))", "link_attribute_values Array(Array(String))",
    ]
)

# From the export's columns to the exporter's, as the exporter fills them: hex ids, every
# attribute value as text, kind and status as `traceutil.SpanKindStr` / `StatusCodeStr` spell them.
INSERT_SQL = """
INSERT INTO otel.otel_traces
SELECT
    fromUnixTimestamp64Nano(toInt64(start_time_unix_nano)) AS Timestamp,
    trace_id AS TraceId,
    span_id AS SpanId,
    parent_span_id AS ParentSpanId,
    trace_state AS TraceState,
    name AS SpanName,
    concat('SPAN_KIND_', upper(kind)) AS SpanKind,
    service_name AS ServiceName,
    mapFromArrays(resource_keys, resource_values) AS ResourceAttributes,
    scope_name AS ScopeName,
    scope_version AS ScopeVersion,
    mapFromArrays(attribute_keys, attribute_values) AS SpanAttributes,
    duration_nano AS Duration,
    concat('STATUS_CODE_', status_code) AS StatusCode,
    status_message AS StatusMessage,
    arrayMap(t -> fromUnixTimestamp64Nano(toInt64(t)), event_times_unix_nano) AS `Events.Timestamp`,
    event_names AS `Events.Name`,
    arrayMap((k, v) -> mapFromArrays(k, v), event_attribute_keys, event_attribute_values)
        AS `Events.Attributes`,
    link_trace_ids AS `Links.TraceId`,
    link_span_ids AS `Links.SpanId`,
    link_trace_states AS `Links.TraceState`,
    arrayMap((k, v) -> mapFromArrays(k, v), link_attribute_keys, link_attribute_values)
        AS `Links.Attributes`
FROM file({path}, 'TabSeparatedWithNames', {structure})
SETTINGS max_block_size = {batch}, min_insert_block_size_rows = {batch},
    min_insert_block_size_bytes = 0, max_insert_threads = {threads}
"""


class Engine:
    def __init__(self, path):
        self.session = chdb_session.Session(path)

    def query(self, sql):
        result = self.session.query(sql, "TabSeparated")
        if result.has_error():
            raise RuntimeError(f"chdb: {result.error_message()}")
        return result.bytes()

    def rows(self, sql):
        return [line.split("\t") for line in self.query(sql).decode().splitlines()]


def apply_schema(engine, path):
    with open(path) as f:
        sql = re.sub(r"--[^\n]*", "", f.read())
    for statement in (s.strip() for s in sql.split(";")):
        if statement:
            engine.query(statement)


def ns(value):
    return f"fromUnixTimestamp64Nano(toInt64({value}))"


def trace_by_id_sql(trace_id):
    # As the exporter's README looks a trace up: the time range from the lookup table narrows
    # the partitions and primary key ranges, the bloom filter the granules.
    return (
        f"WITH '{trace_id}' AS trace_id,"
        " (SELECT min(Start) FROM otel.otel_traces_trace_id_ts WHERE TraceId = trace_id) AS start,"
        " (SELECT max(End) + 1 FROM otel.otel_traces_trace_id_ts WHERE TraceId = trace_id) AS end"
        " SELECT * FROM otel.otel_traces"
        " WHERE TraceId = trace_id AND Timestamp >= start AND Timestamp <= end"
    )


SPAN_FILTERS = ("service", "operation", "attributes", "min_duration_ns", "errors_only")


def matching_sql(search, limit):
    start, end = search["window"]
    if not any(key in search for key in SPAN_FILTERS):
        # Nothing asked of a single span: the most recent traces from the lookup table.
        return (
            "SELECT TraceId FROM otel.otel_traces_trace_id_ts"
            f" WHERE Start >= toDateTime({start // 10**9}) AND Start <= toDateTime({end // 10**9})"
            f" GROUP BY TraceId ORDER BY min(Start) DESC LIMIT {limit}"
        )
    conditions = [f"Timestamp >= {ns(start)}", f"Timestamp <= {ns(end)}"]
    if "service" in search:
        conditions.append(f"ServiceName = {common.sql_string(search['service'])}")
    if "operation" in search:
        conditions.append(f"SpanName = {common.sql_string(search['operation'])}")
    for key, value in search.get("attributes", {}).items():
        conditions.append(
            f"SpanAttributes[{common.sql_string(key)}] = {common.sql_string(value)}"
        )
    if "min_duration_ns" in search:
        conditions.append(f"Duration >= {search['min_duration_ns']}")
    if search.get("errors_only"):
        conditions.append("StatusCode = 'STATUS_CODE_ERROR'")
    return (
        "SELECT TraceId FROM otel.otel_traces"
        f" WHERE {' AND '.join(conditions)}"
        f" GROUP BY TraceId ORDER BY max(Timestamp) DESC LIMIT {limit}"
    )


def summary_sql(trace_ids):
    ids = ", ".join(f"'{trace_id}'" for trace_id in trace_ids)
    return (
        "SELECT TraceId, toUnixTimestamp64Nano(min(Timestamp)) AS start,"
        " max(toUnixTimestamp64Nano(Timestamp) + Duration) - start, count(),"
        " countIf(StatusCode = 'STATUS_CODE_ERROR'),"
        " anyIf(ServiceName, ParentSpanId = ''), anyIf(SpanName, ParentSpanId = ''),"
        " groupUniqArray(ServiceName)"
        f" FROM otel.otel_traces WHERE TraceId IN ({ids})"
        f" AND Timestamp >= (SELECT min(Start) FROM otel.otel_traces_trace_id_ts WHERE TraceId IN ({ids}))"
        f" AND Timestamp <= (SELECT max(End) + 1 FROM otel.otel_traces_trace_id_ts WHERE TraceId IN ({ids}))"
        " GROUP BY TraceId ORDER BY start DESC"
    )


def search(engine, plan_item, limit):
    """Two queries, as a client of this schema must: which traces match, then their summaries."""
    ids = [row[0] for row in engine.rows(matching_sql(plan_item, limit))]
    if not ids:
        return b""
    return engine.query(summary_sql(ids))


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", required=True, help="chdb's data directory (emptied first)")
    parser.add_argument("--tsv", required=True, help="the export, --format tsv")
    parser.add_argument("--stats", required=True, help="the export's --stats JSON")
    parser.add_argument("--schema", required=True)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--insert-threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--lookups", type=int, default=200, help="trace-by-id lookups")
    parser.add_argument("--search-rounds", type=int, default=20, help="runs of each search")
    parser.add_argument("--limit", type=int, default=20, help="traces per search")
    parser.add_argument("--results", help="write the figures here as JSON")
    args = parser.parse_args()
    began = time.monotonic()
    stats = common.load_export_stats(args.stats)
    engine = Engine(args.data_dir)
    version = engine.query("SELECT version()").decode().strip()
    common.log(f"chdb with ClickHouse {version} in {args.data_dir}")
    apply_schema(engine, args.schema)

    with common.PeakDisk(args.data_dir) as disk:
        common.log(f"inserting {stats['spans']:,} spans in blocks of {args.batch_rows:,} rows")
        cpu_before = cpu_seconds()
        insert_started = time.monotonic()
        engine.query(
            INSERT_SQL.format(
                path=common.sql_string(os.path.abspath(args.tsv)),
                structure=common.sql_string(EXPORT_STRUCTURE),
                batch=args.batch_rows,
                threads=args.insert_threads,
            )
        )
        insert_seconds = time.monotonic() - insert_started
        insert_cpu = cpu_seconds() - cpu_before
        parts_after_insert = engine.rows(
            "SELECT count() FROM system.parts WHERE active AND database = 'otel'"
            " AND table = 'otel_traces'"
        )[0][0]
        common.log(f"inserted in {insert_seconds:.1f} s ({parts_after_insert} parts); optimize final")
        optimize_started = time.monotonic()
        engine.query("OPTIMIZE TABLE otel.otel_traces FINAL")
        engine.query("OPTIMIZE TABLE otel.otel_traces_trace_id_ts FINAL")
        optimize_seconds = time.monotonic() - optimize_started
    stored = int(engine.rows("SELECT count() FROM otel.otel_traces")[0][0])
    if stored != stats["spans"]:
        raise SystemExit(f"stored {stored} spans, the export has {stats['spans']}")

    sizes = {
        table: dict(zip(("parts", "rows", "compressed", "uncompressed", "on_disk"), map(int, row)))
        for table, *row in engine.rows(
            "SELECT table, count(), sum(rows), sum(data_compressed_bytes),"
            " sum(data_uncompressed_bytes), sum(bytes_on_disk) FROM system.parts"
            " WHERE active AND database = 'otel' GROUP BY table"
        )
    }
    columns = engine.rows(
        "SELECT name, data_compressed_bytes FROM system.columns"
        " WHERE database = 'otel' AND table = 'otel_traces' ORDER BY data_compressed_bytes DESC"
    )
    spans_bytes = sizes["otel_traces"]["on_disk"]
    all_bytes = sum(size["on_disk"] for size in sizes.values())

    trace_ids = stats["sample_trace_ids"][: args.lookups]
    for trace_id in trace_ids[:20]:
        expected = engine.rows(f"SELECT count() FROM otel.otel_traces WHERE TraceId = '{trace_id}'")
        got = engine.query(trace_by_id_sql(trace_id)).count(b"\n")
        if str(got) != expected[0][0]:
            raise SystemExit(f"trace {trace_id}: {got} spans, expected {expected[0][0]}")
    timings = []
    for trace_id in trace_ids:
        sql = trace_by_id_sql(trace_id)
        started = time.perf_counter()
        engine.query(sql)
        timings.append(time.perf_counter() - started)
    trace_by_id = common.latency_summary(timings)
    common.log(f"trace by id: {trace_by_id}")

    user_id = common.first_user_id(args.tsv)
    plan = common.searches(stats, user_id)
    each = {item["name"]: [] for item in plan}
    found = {}
    for _ in range(args.search_rounds):
        for item in plan:
            started = time.perf_counter()
            answer = search(engine, item, args.limit)
            each[item["name"]].append(time.perf_counter() - started)
            found[item["name"]] = answer.count(b"\n")
    all_timings = [t for samples in each.values() for t in samples]
    search_figures = {
        "all": common.latency_summary(all_timings),
        "each": {
            name: dict(common.latency_summary(samples), traces_found=found[name])
            for name, samples in each.items()
        },
    }
    example = search(engine, plan[1], 3).decode()
    common.log(f"search example ({plan[1]['name']}):\n{example}")

    result = {
        "engine": f"ClickHouse {version} in chdb (in process), OpenTelemetry Collector schema",
        "spans": stats["spans"],
        "traces": stats["traces"],
        "otlp_bytes_per_span": stats["otlp_bytes_per_span"],
        "insert": {
            "seconds": round(insert_seconds, 2),
            "spans_per_s": round(stats["spans"] / insert_seconds),
            "batch_rows": args.batch_rows,
            "parts_after_insert": int(parts_after_insert),
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
        "search": search_figures,
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
