//! Recording a span into a bucket that already holds its key allocates nothing: the stats stage
//! sees every span, so its common path must not touch the allocator. Counted by
//! `allocation-counter`'s global allocator, on seeded traffic.

use kiseki_pipeline::stats::StatsAggregator;

#[test]
fn recording_known_keys_allocates_nothing() {
    let spans = kiseki_testkit::Generator::new(5).spans(20_000, 1_700_000_000_000_000_000);
    let mut stats = StatsAggregator::default();
    let first = allocation_counter::measure(|| spans.iter().for_each(|span| stats.record(span)));
    assert!(first.count_total > 0, "new keys and sketches allocate");
    let again = allocation_counter::measure(|| spans.iter().for_each(|span| stats.record(span)));
    assert_eq!(again.count_total, 0, "{} allocations for {} spans", again.count_total, spans.len());
    assert_eq!(stats.counters().spans, 2 * spans.len() as u64);
}
