-- kiseki's storage benchmark: the spans in ClickHouse 18.16, Debian's version, which has no Map,
-- no column codecs, no skip indexes and LowCardinality only as an experiment. Compression is
-- zstd for every part (the server's <compression> setting, written by clickhouse.sh).
--
-- spans: one row per span, ids binary, attributes as parallel key/value arrays. Sorted by
-- service and operation, then start time, so the common search (service + operation over a
-- time range) reads few granules and similar spans sit together for the compressor.
-- Partitioned by day: retention drops whole partitions.
CREATE TABLE spans (
    trace_id FixedString(16),
    span_id UInt64,
    parent_span_id UInt64,
    trace_state String,
    name String,
    kind Enum8('unspecified' = 0, 'internal' = 1, 'server' = 2, 'client' = 3, 'producer' = 4, 'consumer' = 5),
    service_name String,
    start_time_unix_nano UInt64,
    duration_nano UInt64,
    status_code Enum8('UNSET' = 0, 'OK' = 1, 'ERROR' = 2),
    status_message String,
    attribute_keys Array(String),
    attribute_values Array(String),
    resource_keys Array(String),
    resource_values Array(String),
    scope_name String,
    scope_version String,
    event_times_unix_nano Array(UInt64),
    event_names Array(String),
    event_attribute_keys Array(Array(String)),
    event_attribute_values Array(Array(String)),
    link_trace_ids Array(FixedString(16)),
    link_span_ids Array(UInt64),
    link_trace_states Array(String),
    link_attribute_keys Array(Array(String)),
    link_attribute_values Array(Array(String))
) ENGINE = MergeTree()
PARTITION BY toDate(toDateTime(intDiv(start_time_unix_nano, 1000000000)))
ORDER BY (service_name, name, start_time_unix_nano)
-- Granules of 1024 rows instead of 8192: a trace's spans lie in a dozen places (one per service
-- and operation), and each granule read for them decodes all its rows' attribute arrays. Halves
-- trace-by-id latency for about 1.5 bytes per span of marks.
SETTINGS index_granularity = 1024;

-- trace_index: the trace-id lookup table, one row per trace and insert batch (a trace split
-- across two batches has two rows; queries aggregate by id). Sorted by trace id, so a lookup
-- reads one granule per day, and it gives the time range that narrows the spans query. It also
-- carries what a search result shows (root, span and error counts, services), so a search reads
-- the spans table only to find which traces match. (Its column names differ from the input's
-- because 18.16 cannot alias an aggregate to the name of a column it aggregates.)
CREATE TABLE trace_index (
    id FixedString(16),
    first_start_unix_nano UInt64,
    last_end_unix_nano UInt64,
    span_count UInt32,
    error_count UInt32,
    root_service_name String,
    root_name String,
    service_names Array(String)
) ENGINE = MergeTree()
PARTITION BY toDate(toDateTime(intDiv(first_start_unix_nano, 1000000000)))
ORDER BY id;

-- What clients insert: the export's columns as text (hex ids). Nothing is kept here; the two
-- materialized views below convert each inserted block into spans and trace_index rows.
CREATE TABLE spans_input (
    trace_id String,
    span_id String,
    parent_span_id String,
    trace_state String,
    name String,
    kind String,
    service_name String,
    start_time_unix_nano UInt64,
    duration_nano UInt64,
    status_code String,
    status_message String,
    attribute_keys Array(String),
    attribute_values Array(String),
    resource_keys Array(String),
    resource_values Array(String),
    scope_name String,
    scope_version String,
    event_times_unix_nano Array(UInt64),
    event_names Array(String),
    event_attribute_keys Array(Array(String)),
    event_attribute_values Array(Array(String)),
    link_trace_ids Array(String),
    link_span_ids Array(String),
    link_trace_states Array(String),
    link_attribute_keys Array(Array(String)),
    link_attribute_values Array(Array(String))
) ENGINE = Null;

CREATE MATERIALIZED VIEW spans_mv TO spans AS
SELECT
    toFixedString(unhex(trace_id), 16) AS trace_id,
    reinterpretAsUInt64(reverse(unhex(span_id))) AS span_id,
    reinterpretAsUInt64(reverse(unhex(parent_span_id))) AS parent_span_id,
    trace_state,
    name,
    CAST(kind AS Enum8('unspecified' = 0, 'internal' = 1, 'server' = 2, 'client' = 3, 'producer' = 4, 'consumer' = 5)) AS kind,
    service_name,
    start_time_unix_nano,
    duration_nano,
    CAST(status_code AS Enum8('UNSET' = 0, 'OK' = 1, 'ERROR' = 2)) AS status_code,
    status_message,
    attribute_keys,
    attribute_values,
    resource_keys,
    resource_values,
    scope_name,
    scope_version,
    event_times_unix_nano,
    event_names,
    event_attribute_keys,
    event_attribute_values,
    arrayMap(id -> toFixedString(unhex(id), 16), link_trace_ids) AS link_trace_ids,
    arrayMap(id -> reinterpretAsUInt64(reverse(unhex(id))), link_span_ids) AS link_span_ids,
    link_trace_states,
    link_attribute_keys,
    link_attribute_values
FROM spans_input;

CREATE MATERIALIZED VIEW trace_index_mv TO trace_index AS
SELECT
    toFixedString(unhex(trace_id), 16) AS id,
    min(start_time_unix_nano) AS first_start_unix_nano,
    max(start_time_unix_nano + duration_nano) AS last_end_unix_nano,
    toUInt32(count()) AS span_count,
    toUInt32(countIf(status_code = 'ERROR')) AS error_count,
    anyIf(service_name, parent_span_id = '') AS root_service_name,
    anyIf(name, parent_span_id = '') AS root_name,
    groupUniqArray(service_name) AS service_names
FROM spans_input
GROUP BY trace_id;
