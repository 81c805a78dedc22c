//! Tests of the block format: round trips, lookups, search against brute force, compaction,
//! corruption and crash leftovers.

use std::collections::BTreeMap;

use kiseki_model::{Span, TraceId};

use super::*;

pub const START: u64 = 1_700_000_000_000_000_000;

/// Spans grouped by trace, each trace in a canonical order, for multiset comparison.
pub fn by_trace(spans: impl IntoIterator<Item = Span>) -> BTreeMap<TraceId, Vec<Span>> {
    let mut traces: BTreeMap<TraceId, Vec<Span>> = BTreeMap::new();
    for span in spans {
        traces.entry(span.trace_id).or_default().push(span);
    }
    for spans in traces.values_mut() {
        canonical_order(spans);
    }
    traces
}

pub fn canonical_order(spans: &mut [Span]) {
    spans.sort_by_cached_key(|s| (s.start_time_unix_nano, s.span_id, format!("{s:?}")));
}

/// Every span of a block, read back trace by trace.
fn read_all(block: &Block, trace_ids: impl IntoIterator<Item = TraceId>) -> BTreeMap<TraceId, Vec<Span>> {
    trace_ids
        .into_iter()
        .map(|id| {
            let mut spans = block.trace(id).unwrap();
            canonical_order(&mut spans);
            (id, spans)
        })
        .collect()
}

fn shop_spans(seed: u64, count: usize) -> Vec<Span> {
    kiseki_testkit::Generator::new(seed).spans(count, START)
}

#[test]
fn generator_traffic_round_trips_trace_by_trace() {
    let dir = tempfile::tempdir().unwrap();
    let spans = shop_spans(1, 20_000);
    let expected = by_trace(spans.clone());
    let block = write_block(dir.path(), BlockId::generate(), 0, spans).unwrap();
    assert_eq!(block.meta().span_count, expected.values().map(Vec::len).sum::<usize>() as u64);
    assert_eq!(block.meta().trace_count, expected.len() as u64);
    let read = read_all(&block, expected.keys().copied());
    for (id, spans) in &expected {
        assert_eq!(&read[id], spans, "trace {id}");
    }
    let reopened = Block::open(block.dir()).unwrap();
    assert_eq!(reopened.meta(), block.meta());
    let some = *expected.keys().nth(expected.len() / 2).unwrap();
    let mut again = reopened.trace(some).unwrap();
    canonical_order(&mut again);
    assert_eq!(again, expected[&some]);
}
