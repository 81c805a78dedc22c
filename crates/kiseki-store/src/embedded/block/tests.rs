//! Tests of the block format: round trips, lookups, search against brute force, compaction,
//! corruption and crash leftovers.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, TraceId,
};
use proptest::prelude::*;

use super::*;
use crate::conformance::expected_search;
use crate::query::{AttributeFilter, TraceQuery, TraceSummary};

const START: u64 = 1_700_000_000_000_000_000;

/// Spans grouped by trace, each trace in a canonical order, for multiset comparison.
fn by_trace(spans: impl IntoIterator<Item = Span>) -> BTreeMap<TraceId, Vec<Span>> {
    let mut traces: BTreeMap<TraceId, Vec<Span>> = BTreeMap::new();
    for span in spans {
        traces.entry(span.trace_id).or_default().push(span);
    }
    traces.values_mut().for_each(|spans| canonical_order(spans));
    traces
}

fn canonical_order(spans: &mut [Span]) {
    spans.sort_by_cached_key(|s| (s.start_time_unix_nano, s.span_id, format!("{s:?}")));
}

/// Every span of a block, read back trace by trace.
fn read_all(
    block: &Block,
    trace_ids: impl IntoIterator<Item = TraceId>,
) -> BTreeMap<TraceId, Vec<Span>> {
    trace_ids
        .into_iter()
        .map(|id| {
            let mut spans = block.trace(id).unwrap();
            canonical_order(&mut spans);
            (id, spans)
        })
        .filter(|(_, spans)| !spans.is_empty())
        .collect()
}

fn shop_traces(seed: u64, count: u64) -> Vec<Vec<Span>> {
    let mut generator = kiseki_testkit::Generator::new(seed);
    (0..count).map(|i| generator.trace(START + i * 10_000_000)).collect()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn generator_traffic_round_trips_trace_by_trace() {
    let dir = temp_dir();
    let spans: Vec<Span> = shop_traces(1, 300).concat();
    let expected = by_trace(spans.clone());
    let block = write_block(dir.path(), BlockId::generate(), 0, spans).unwrap();
    assert_eq!(block.meta().span_count, expected.values().map(Vec::len).sum::<usize>() as u64);
    assert_eq!(block.meta().trace_count, expected.len() as u64);
    assert_eq!(read_all(&block, expected.keys().copied()), expected);
    let reopened = Block::open(block.dir()).unwrap();
    assert_eq!(reopened.meta(), block.meta());
    let some = *expected.keys().nth(expected.len() / 2).unwrap();
    let mut again = reopened.trace(some).unwrap();
    canonical_order(&mut again);
    assert_eq!(again, expected[&some]);
}

#[test]
fn meta_counts_times_and_catalog_match_the_spans() {
    let dir = temp_dir();
    let spans: Vec<Span> = shop_traces(2, 200).concat();
    let block = write_block(dir.path(), BlockId::generate(), 3, spans.clone()).unwrap();
    let meta = block.meta();
    assert_eq!(meta.level, 3);
    assert_eq!(meta.format_version, FORMAT_VERSION);
    assert_eq!(
        meta.min_start_unix_nano,
        spans.iter().map(|s| s.start_time_unix_nano).min().unwrap()
    );
    assert_eq!(
        meta.max_start_unix_nano,
        spans.iter().map(|s| s.start_time_unix_nano).max().unwrap()
    );
    assert_eq!(meta.max_end_unix_nano, spans.iter().map(|s| s.end_time_unix_nano).max().unwrap());
    assert_eq!(meta.data_bytes, std::fs::metadata(block.dir().join(DATA_FILE)).unwrap().len());
    let mut expected = Catalog::default();
    spans.iter().for_each(|s| expected.add_span(s));
    let services: Vec<&str> = meta.catalog.services().collect();
    assert_eq!(services, expected.services().collect::<Vec<_>>());
    for service in services {
        let listed: Vec<_> = meta.catalog.operations(service).collect();
        assert_eq!(listed, expected.operations(service).collect::<Vec<_>>(), "{service}");
    }
    let keys: Vec<&str> = meta.catalog.attribute_keys().collect();
    assert_eq!(keys, expected.attribute_keys().collect::<Vec<_>>());
    for key in keys {
        let values: Vec<&str> = meta.catalog.attribute_values(key).collect();
        assert_eq!(values, expected.attribute_values(key).collect::<Vec<_>>(), "{key}");
    }
}

// ---- arbitrary spans ----

fn text() -> impl Strategy<Value = Str> {
    prop_oneof![
        3 => prop::sample::select(vec!["", "a", "GET", "http.route", "checkout", "ünïcødé ✓"]).prop_map(Str::new),
        1 => "[ -~]{0,40}".prop_map(Str::from),
    ]
}

fn value() -> impl Strategy<Value = AnyValue> {
    let scalar = prop_oneof![
        Just(AnyValue::Empty),
        text().prop_map(AnyValue::Str),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        prop::num::f64::NORMAL.prop_map(AnyValue::Double),
        Just(AnyValue::Double(-0.0)),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(AnyValue::Bytes),
    ];
    scalar.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
            prop::collection::vec((text(), inner), 0..4).prop_map(|kvs| AnyValue::Map(
                kvs.into_iter().map(|(k, v)| KeyValue { key: k, value: v }).collect()
            )),
        ]
    })
}

fn attributes() -> impl Strategy<Value = Attributes> {
    // Keys from a small pool, some dedicated, so shapes repeat and keys repeat within a list.
    let key = prop::sample::select(vec![
        "http.request.method",
        "http.response.status_code",
        "db.query.text",
        "server.port",
        "custom.key",
        "k",
        "",
    ]);
    let typed = prop_oneof![
        (
            Just("http.request.method"),
            prop::sample::select(vec!["GET", "POST"]).prop_map(AnyValue::from)
        ),
        (Just("http.response.status_code"), (200i64..504).prop_map(AnyValue::Int)),
        (key, value()),
    ];
    prop::collection::vec(typed, 0..6).prop_map(|kvs| {
        kvs.into_iter().map(|(k, v)| KeyValue { key: Str::new(k), value: v }).collect()
    })
}

fn id_pool() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..6, any::<u64>().prop_map(|v| v | 1)]
}

#[derive(Debug, Clone)]
struct SpanParts {
    trace: usize,
    span_id: u64,
    parent: Option<u64>,
    start: u64,
    end: u64,
    rest: (Str, u8, u8, u32, Str, Str, [u32; 3], usize, usize),
    attributes: Attributes,
    events: Vec<(u64, Str, Attributes, u32)>,
    links: Vec<(u128, u64, Str, u32, Attributes, u32)>,
}

fn span_parts() -> impl Strategy<Value = SpanParts> {
    let time = prop_oneof![START..START + 1_000_000_000, any::<u64>()];
    (
        (0usize..4, id_pool(), prop::option::of(id_pool()), time.clone(), time),
        (
            text(),
            0u8..6,
            0u8..3,
            any::<u32>(),
            text(),
            text(),
            [0u32..3, 0u32..3, 0u32..3],
            0usize..3,
            0usize..3,
        ),
        attributes(),
        prop::collection::vec((any::<u64>(), text(), attributes(), 0u32..2), 0..3),
        prop::collection::vec(
            (any::<u128>(), any::<u64>(), text(), any::<u32>(), attributes(), 0u32..2),
            0..2,
        ),
    )
        .prop_map(|((trace, span_id, parent, start, end), rest, attributes, events, links)| {
            SpanParts { trace, span_id, parent, start, end, rest, attributes, events, links }
        })
}

fn build_spans(parts: Vec<SpanParts>, trace_ids: &[u128]) -> Vec<Span> {
    let resources: Vec<Arc<Resource>> = vec![
        Arc::new(Resource::for_service("cart")),
        Arc::new(Resource {
            attributes: [
                KeyValue::new("service.name", "checkout"),
                KeyValue::new("host.name", "node-1"),
            ]
            .into_iter()
            .collect(),
            dropped_attributes_count: 2,
        }),
        Arc::new(Resource::default()),
    ];
    let scopes: Vec<Arc<Scope>> = vec![
        Arc::new(Scope::default()),
        Arc::new(Scope {
            name: Str::new("io.opentelemetry.http"),
            version: Str::new("1.2"),
            attributes: [KeyValue::new("x", 1i64)].into_iter().collect(),
            dropped_attributes_count: 1,
        }),
        Arc::new(Scope { name: Str::new("lib"), ..Scope::default() }),
    ];
    parts
        .into_iter()
        .map(|p| {
            let (name, kind, status, flags, message, trace_state, dropped, resource, scope) =
                p.rest;
            let trace_id = TraceId::new(trace_ids[p.trace % trace_ids.len()]).unwrap();
            let mut span = Span::new(trace_id, SpanId::new(p.span_id).unwrap());
            span.parent_span_id = p.parent.and_then(SpanId::new);
            span.start_time_unix_nano = p.start;
            span.end_time_unix_nano = p.end;
            span.name = name;
            span.kind = SpanKind::from_number(i64::from(kind)).unwrap();
            span.status =
                Status { code: StatusCode::from_number(i64::from(status)).unwrap(), message };
            span.flags = flags;
            span.trace_state = trace_state;
            [span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count] =
                dropped;
            span.resource = Arc::clone(&resources[resource]);
            span.scope = Arc::clone(&scopes[scope]);
            span.attributes = p.attributes;
            span.events = p
                .events
                .into_iter()
                .map(|(time, name, attributes, dropped)| Event {
                    time_unix_nano: time,
                    name,
                    attributes,
                    dropped_attributes_count: dropped,
                })
                .collect();
            span.links = p
                .links
                .into_iter()
                .map(|(trace, span, trace_state, flags, attributes, dropped)| Link {
                    trace_id: TraceId::new(trace | 1).unwrap(),
                    span_id: SpanId::new(span | 1).unwrap(),
                    trace_state,
                    flags,
                    attributes,
                    dropped_attributes_count: dropped,
                })
                .collect();
            span
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any spans in any grouping into traces come back exactly, as multisets per trace, from
    /// trace-by-id and from a compaction of two blocks.
    #[test]
    fn arbitrary_spans_round_trip(
        parts in prop::collection::vec(span_parts(), 1..40),
        split in 0usize..40,
        trace_ids in prop::collection::vec(prop_oneof![1u128..4, any::<u128>().prop_map(|v| v | 1)], 1..4),
    ) {
        let spans = build_spans(parts, &trace_ids);
        let expected = by_trace(spans.clone());
        let dir = temp_dir();
        let block = write_block(dir.path(), BlockId::generate(), 0, spans.clone()).unwrap();
        prop_assert_eq!(read_all(&block, expected.keys().copied()), expected.clone());

        let (a, b) = spans.split_at(split.min(spans.len()));
        let first = write_block(dir.path(), BlockId::generate(), 0, a.to_vec()).unwrap();
        let second = write_block(dir.path(), BlockId::generate(), 0, b.to_vec()).unwrap();
        let merged = compact(&[&first, &second], dir.path(), BlockId::generate(), 1).unwrap();
        prop_assert_eq!(merged.meta().span_count, spans.len() as u64);
        prop_assert_eq!(read_all(&merged, expected.keys().copied()), expected);
    }
}

/// Spans split over `parts` blocks by `assignment` (an input for each span, cycled).
fn split_blocks(dir: &Path, spans: &[Span], assignment: &[usize], parts: usize) -> Vec<Block> {
    let mut split: Vec<Vec<Span>> = vec![Vec::new(); parts];
    for (i, span) in spans.iter().enumerate() {
        split[assignment[i % assignment.len()] % parts].push(span.clone());
    }
    split.into_iter().map(|p| write_block(dir, BlockId::generate(), 0, p).unwrap()).collect()
}

/// Compacts `inputs` both ways, from their columns and through decoded spans, and checks
/// that the two blocks are the same: the data file byte for byte and the index equal, its
/// catalog compared as searches read it. Returns the block compacted from columns.
fn compacts_as_through_spans(dir: &Path, inputs: &[&Block]) -> Block {
    let fast = compact(inputs, dir, BlockId::generate(), 1).unwrap();
    let slow =
        compact::through_spans::compact_through_spans(inputs, dir, BlockId::generate(), 1).unwrap();
    let data = |block: &Block| std::fs::read(block.dir().join(DATA_FILE)).unwrap();
    assert!(data(&fast) == data(&slow), "data files differ");
    // A key with too many values is searched as "may have anything": whether some of its
    // values were also unlisted does not matter (and depends on the order values were met).
    let normalized = |block: &Block| {
        let mut index = block.index().clone();
        for values in index.catalog.attributes.values_mut() {
            values.unlisted &= !values.too_many;
        }
        index
    };
    assert_eq!(normalized(&fast), normalized(&slow));
    slow.remove().unwrap();
    fast
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Compacting from the inputs' columns writes what compacting through decoded spans
    /// writes, for any spans split over up to four inputs (traces in several of them, parents
    /// in another input, dedicated columns in some inputs only, lists written inline).
    #[test]
    fn compaction_from_columns_writes_what_decoded_spans_would(
        parts in prop::collection::vec(span_parts(), 1..60),
        assignment in prop::collection::vec(0usize..4, 1..8),
        inputs in 1usize..5,
        trace_ids in prop::collection::vec(prop_oneof![1u128..4, any::<u128>().prop_map(|v| v | 1)], 1..4),
    ) {
        let spans = build_spans(parts, &trace_ids);
        let expected = by_trace(spans.clone());
        let dir = temp_dir();
        let blocks = split_blocks(dir.path(), &spans, &assignment, inputs);
        let refs: Vec<&Block> = blocks.iter().collect();
        let merged = compacts_as_through_spans(dir.path(), &refs);
        prop_assert_eq!(read_all(&merged, expected.keys().copied()), expected);
    }
}

// ---- lookups ----

#[test]
fn absent_and_bloom_colliding_ids_read_as_empty() {
    let dir = temp_dir();
    let spans: Vec<Span> = shop_traces(3, 100).concat();
    let present: std::collections::HashSet<TraceId> = spans.iter().map(|s| s.trace_id).collect();
    let block = write_block(dir.path(), BlockId::generate(), 0, spans).unwrap();
    let mut colliding = 0;
    for i in 1..20_000u128 {
        let id = TraceId::new(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)).unwrap();
        if present.contains(&id) {
            continue;
        }
        if block.index().bloom.may_contain(id) {
            colliding += 1;
            assert!(block.trace(id).unwrap().is_empty());
            assert!(block.summaries(&[id]).unwrap().is_empty());
        }
    }
    assert!(colliding > 0, "no bloom collision found to test with");
    assert!(present.iter().all(|&id| block.may_contain(id)));
}

// ---- search ----

fn queries_for(traces: &[Vec<Span>]) -> Vec<TraceQuery> {
    let all: Vec<&Span> = traces.iter().flatten().collect();
    let failing = all.iter().find(|s| s.is_error() && !s.is_root()).unwrap();
    let slow = all.iter().map(|s| s.duration_nanos()).max().unwrap() / 4;
    let mid = all[all.len() / 2].start_time_unix_nano;
    let many = 1_000;
    let attr = |k: &str, v: &str| vec![AttributeFilter::new(k, v)];
    let mut queries = vec![
        TraceQuery { limit: many, ..Default::default() },
        TraceQuery { limit: 7, ..Default::default() },
        TraceQuery { service: Some(failing.service_name().into()), ..Default::default() },
        TraceQuery { service: Some("no-such".into()), ..Default::default() },
        TraceQuery {
            service: Some(failing.service_name().into()),
            operation: Some(failing.name.to_string()),
            limit: many,
            ..Default::default()
        },
        TraceQuery { operation: Some(failing.name.to_string()), limit: 3, ..Default::default() },
        TraceQuery { operation: Some("no such".into()), ..Default::default() },
        TraceQuery { errors_only: true, limit: many, ..Default::default() },
        TraceQuery { min_duration_nanos: Some(slow), limit: many, ..Default::default() },
        TraceQuery { max_duration_nanos: Some(300_000), limit: many, ..Default::default() },
        TraceQuery {
            start_unix_nano: mid,
            end_unix_nano: mid + 500_000_000,
            limit: many,
            ..Default::default()
        },
        TraceQuery { start_unix_nano: mid, end_unix_nano: mid - 1, ..Default::default() },
        TraceQuery {
            attributes: attr("http.response.status_code", "500"),
            limit: many,
            ..Default::default()
        },
        TraceQuery {
            attributes: attr("http.response.status_code", "0500"),
            limit: many,
            ..Default::default()
        },
        TraceQuery { attributes: attr("http.request.method", "BREW"), ..Default::default() },
        TraceQuery {
            attributes: attr("service.name", "frontend"),
            limit: many,
            ..Default::default()
        },
        TraceQuery {
            attributes: attr("k8s.node.name", "node-2"),
            limit: many,
            ..Default::default()
        },
        TraceQuery {
            attributes: attr("app.payment.charged", "true"),
            limit: many,
            ..Default::default()
        },
        TraceQuery { attributes: attr("app.order.amount", "not a number"), ..Default::default() },
        TraceQuery {
            attributes: attr("app.ads.contextKeys", "[\"accessories\",\"binoculars\"]"),
            ..Default::default()
        },
        TraceQuery {
            attributes: vec![
                AttributeFilter::new("http.request.method", "GET"),
                AttributeFilter::new("service.name", "frontend"),
            ],
            errors_only: true,
            limit: many,
            ..Default::default()
        },
    ];
    // A value of every kind of attribute some span has, on span and resource.
    for span in all.iter().step_by(37).take(40) {
        for kv in span.attributes.iter().chain(span.resource.attributes.iter()).step_by(3) {
            queries.push(TraceQuery {
                attributes: vec![AttributeFilter::new(kv.key.as_str(), kv.value.to_string())],
                service: (kv.key.len() % 2 == 0).then(|| span.service_name().to_string()),
                limit: 50,
                ..Default::default()
            });
        }
    }
    queries
}

#[test]
fn search_finds_what_brute_force_finds() {
    let dir = temp_dir();
    let traces = shop_traces(4, 400);
    let block = write_block(dir.path(), BlockId::generate(), 0, traces.concat()).unwrap();
    assert!(block.index().row_groups.len() > 3);
    for query in queries_for(&traces) {
        let found = block.search(&query).unwrap();
        assert_eq!(found, expected_search(&traces, &query), "{query:?}");
    }
    // Summaries by id are those of the whole trace, in any order.
    let ids: Vec<TraceId> = traces.iter().step_by(3).map(|t| t[0].trace_id).collect();
    let mut summaries = block.summaries(&ids).unwrap();
    summaries.sort_by_key(|s| s.trace_id);
    let mut expected: Vec<TraceSummary> =
        traces.iter().step_by(3).filter_map(TraceSummary::of_spans).collect();
    expected.sort_by_key(|s| s.trace_id);
    assert_eq!(summaries, expected);
}

#[test]
fn search_summarises_only_the_part_of_a_trace_in_the_block() {
    let dir = temp_dir();
    let traces = shop_traces(5, 50);
    let first: Vec<Span> = traces.iter().flat_map(|t| t.iter().step_by(2).cloned()).collect();
    let parts: Vec<Vec<Span>> = by_trace(first.clone()).into_values().collect();
    let block = write_block(dir.path(), BlockId::generate(), 0, first).unwrap();
    let query = TraceQuery { limit: 1_000, ..Default::default() };
    assert_eq!(block.search(&query).unwrap(), expected_search(&parts, &query));
}

// ---- compaction ----

#[test]
fn compaction_merges_overlapping_blocks_into_their_union() {
    let dir = temp_dir();
    let traces = shop_traces(6, 300);
    // Five blocks; each trace is spread over up to three of them, some blocks lack whole kinds
    // of spans (so their dedicated columns differ).
    let mut parts: Vec<Vec<Span>> = vec![Vec::new(); 5];
    for (t, trace) in traces.iter().enumerate() {
        for (i, span) in trace.iter().enumerate() {
            let part = if span.attributes.get("db.system").is_some() { 4 } else { (t + i % 3) % 4 };
            parts[part].push(span.clone());
        }
    }
    let blocks: Vec<Block> = parts
        .into_iter()
        .map(|p| write_block(dir.path(), BlockId::generate(), 0, p).unwrap())
        .collect();
    let inputs: Vec<&Block> = blocks.iter().collect();
    let merged = compacts_as_through_spans(dir.path(), &inputs);
    assert!(
        merged.index().has_inline_shapes,
        "some lists are written inline ({} shapes)",
        merged.index().shapes.len()
    );
    let expected = by_trace(traces.concat());
    assert_eq!(merged.meta().span_count, expected.values().map(Vec::len).sum::<usize>() as u64);
    assert_eq!(merged.meta().trace_count, expected.len() as u64);
    assert_eq!(merged.meta().level, 1);
    assert_eq!(read_all(&merged, expected.keys().copied()), expected);
    let groups = &merged.index().row_groups;
    assert!(groups.len() > 3, "{} row groups", groups.len());
    assert!(groups.windows(2).all(|w| w[0].last_trace < w[1].first_trace));
    let query = TraceQuery { limit: 1_000, ..Default::default() };
    assert_eq!(merged.search(&query).unwrap(), expected_search(&traces, &query));
    // The inputs can go once the output is published; nothing is left of them.
    for block in blocks {
        let path = block.dir().to_path_buf();
        block.remove().unwrap();
        assert!(!path.exists());
    }
    let (opened, report) = open_blocks(dir.path()).unwrap();
    assert_eq!(opened.iter().map(Block::id).collect::<Vec<_>>(), vec![merged.id()]);
    assert!(report.skipped.is_empty() && report.removed.is_empty());
}

// ---- files on disk ----

#[test]
fn open_blocks_cleans_leftovers_and_skips_broken_blocks() {
    let dir = temp_dir();
    let good =
        write_block(dir.path(), BlockId::generate(), 0, shop_traces(7, 20).concat()).unwrap();
    let broken =
        write_block(dir.path(), BlockId::generate(), 0, shop_traces(8, 20).concat()).unwrap();
    let future =
        write_block(dir.path(), BlockId::generate(), 0, shop_traces(9, 20).concat()).unwrap();
    let broken_index = broken.dir().join(INDEX_FILE);
    let mut bytes = std::fs::read(&broken_index).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&broken_index, bytes).unwrap();
    let index_path = future.dir().join(INDEX_FILE);
    let mut bytes = std::fs::read(&index_path).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    std::fs::write(&index_path, bytes).unwrap();
    let leftover = dir.path().join(format!("{}{TMP_SUFFIX}", BlockId::generate()));
    std::fs::create_dir(&leftover).unwrap();
    std::fs::write(leftover.join(DATA_FILE), b"half").unwrap();
    let deleted = dir.path().join(format!("{}{DELETED_SUFFIX}", BlockId::generate()));
    std::fs::create_dir(&deleted).unwrap();
    std::fs::write(dir.path().join("README"), b"not a block").unwrap();

    let (blocks, report) = open_blocks(dir.path()).unwrap();
    assert_eq!(blocks.iter().map(Block::id).collect::<Vec<_>>(), vec![good.id()]);
    assert!(!leftover.exists() && !deleted.exists());
    assert_eq!(report.removed.len(), 2);
    assert_eq!(report.skipped.len(), 2);
    for (path, error) in &report.skipped {
        if path == future.dir() {
            assert!(matches!(error, BlockError::UnsupportedVersion(2)), "{error}");
        } else {
            assert_eq!(path, broken.dir());
            assert!(matches!(error, BlockError::Corrupt(_)), "{error}");
        }
    }
    assert!(dir.path().join("README").exists());
}

#[test]
fn a_failed_write_leaves_nothing_and_disk_full_is_its_own_error() {
    let dir = temp_dir();
    let id = BlockId::generate();
    let failed = publish(dir.path(), id, 0, Vec::new(), None, |_| {
        Err(BlockError::from(io::Error::new(io::ErrorKind::StorageFull, "no space left on device")))
    });
    assert!(matches!(failed, Err(BlockError::DiskFull(_))), "{failed:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let quota = BlockError::from(io::Error::from(io::ErrorKind::QuotaExceeded));
    assert!(matches!(quota, BlockError::DiskFull(_)));
    let parquet_io = parquet::errors::ParquetError::External(Box::new(io::Error::from(
        io::ErrorKind::StorageFull,
    )));
    assert!(matches!(BlockError::from(parquet_io), BlockError::DiskFull(_)));
    // An id that exists is refused rather than overwritten.
    let spans = shop_traces(10, 5).concat();
    write_block(dir.path(), id, 0, spans.clone()).unwrap();
    assert!(write_block(dir.path(), id, 0, spans).is_err());
}

/// Every read of a corrupted block gives an error or the right answer, never a panic.
fn reads_are_right_or_errors(
    dir: &Path,
    expected: &BTreeMap<TraceId, Vec<Span>>,
    query: &TraceQuery,
    search: &[TraceSummary],
) -> bool {
    let Ok(block) = Block::open(dir) else { return true };
    let mut any_error = false;
    for (id, spans) in expected {
        match block.trace(*id) {
            Ok(mut read) => {
                canonical_order(&mut read);
                assert_eq!(&read, spans, "a corrupted block returned a wrong trace");
            }
            Err(_) => any_error = true,
        }
    }
    match block.search(query) {
        Ok(found) => assert_eq!(found, search, "a corrupted block returned a wrong search"),
        Err(_) => any_error = true,
    }
    any_error
}

#[test]
fn flipped_or_cut_bytes_give_errors_not_panics_or_wrong_answers() {
    let dir = temp_dir();
    let traces = shop_traces(11, 60);
    let expected = by_trace(traces.concat());
    let block = write_block(dir.path(), BlockId::generate(), 0, traces.concat()).unwrap();
    let query = TraceQuery {
        limit: 1_000,
        attributes: vec![AttributeFilter::new("http.request.method", "GET")],
        ..Default::default()
    };
    let search = block.search(&query).unwrap();
    let block_dir = block.dir().to_path_buf();
    drop(block);
    for file in [DATA_FILE, INDEX_FILE] {
        let path = block_dir.join(file);
        let original = std::fs::read(&path).unwrap();
        let step = (original.len() / 97).max(1);
        let mut detected = 0;
        let mut tried = 0;
        for at in (4..original.len()).step_by(step) {
            let mut bytes = original.clone();
            bytes[at] ^= 0x5a;
            std::fs::write(&path, &bytes).unwrap();
            tried += 1;
            if Block::open(&block_dir).is_err()
                || reads_are_right_or_errors(&block_dir, &expected, &query, &search)
            {
                detected += 1;
            }
        }
        for cut in [0, 1, original.len() / 3, original.len() - 1] {
            std::fs::write(&path, &original[..cut]).unwrap();
            assert!(Block::open(&block_dir).is_err(), "{file} cut to {cut} bytes opened");
        }
        std::fs::write(&path, &original).unwrap();
        assert_eq!(detected, tried, "{file}: flips that went unnoticed");
    }
    assert!(!reads_are_right_or_errors(&block_dir, &expected, &query, &search));
}

#[test]
fn block_ids_sort_by_time_and_read_back_from_their_names() {
    let earlier = BlockId::new(1_000, 99);
    let later = BlockId::new(1_001, 1);
    assert!(earlier < later);
    assert_eq!(later.created_unix_millis(), 1_001);
    for id in [earlier, later, BlockId::generate()] {
        let name = id.to_string();
        assert_eq!(name.len(), 32);
        assert_eq!(name.parse::<BlockId>().unwrap(), id);
    }
    assert_ne!(BlockId::generate(), BlockId::generate());
    for bad in [
        "",
        "xyz",
        "0000000000000000000000000000000g",
        "00000000000000000000000000000000.tmp",
        "0000000000000000000000000000000A",
    ] {
        assert!(bad.parse::<BlockId>().is_err(), "{bad}");
    }
}

#[test]
fn an_empty_block_is_valid_and_blocks_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>(_: &T) {}
    let dir = temp_dir();
    let empty = write_block(dir.path(), BlockId::generate(), 0, Vec::new()).unwrap();
    shared(&empty);
    assert_eq!(empty.meta().span_count, 0);
    assert!(empty.search(&TraceQuery::default()).unwrap().is_empty());
    assert!(empty.trace(TraceId::new(7).unwrap()).unwrap().is_empty());
    let reopened = Block::open(empty.dir()).unwrap();
    let merged = compact(&[&reopened], dir.path(), BlockId::generate(), 1).unwrap();
    assert_eq!(merged.meta().span_count, 0);
}
