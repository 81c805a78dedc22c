//! Throughput of the stats stage, in spans per second on one core, on the seeded shop traffic
//! in the batches SDKs send (each batch from one service instance).
//!
//! - `record/steady`: spans into buckets that already hold their keys, the common case at any
//!   sustained rate (a 10 s bucket sees each key's first span once);
//! - `record/cold_then_drain`: a fresh aggregator per iteration, so every key is created and
//!   every sketch allocated, then everything closed and rolled up to minutes and hours: the
//!   whole cost of the stage per span, an upper bound.
//!
//! Run with `cargo bench -p kiseki-pipeline --bench stats`.

use std::collections::BTreeMap;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kiseki_model::Span;
use kiseki_pipeline::stats::StatsAggregator;

/// The allocator the kiseki binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: u64 = 1_700_000_000_000_000_000;

/// About 50 000 spans, grouped by service instance as SDKs export them.
fn spans() -> Vec<Span> {
    let spans = kiseki_testkit::Generator::new(42).spans(50_000, START);
    let mut by_instance: BTreeMap<usize, Vec<Span>> = BTreeMap::new();
    for span in spans {
        by_instance.entry(std::sync::Arc::as_ptr(&span.resource) as usize).or_default().push(span);
    }
    by_instance.into_values().flatten().collect()
}

fn bench_record(c: &mut Criterion) {
    let spans = spans();
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(spans.len() as u64));
    group.sample_size(30);

    let mut warm = StatsAggregator::default();
    spans.iter().for_each(|span| warm.record(span));
    let bin_bytes: usize = warm
        .buckets()
        .flat_map(|bucket| bucket.entries())
        .map(|(_, stats)| stats.durations.bin_bytes())
        .sum();
    eprintln!(
        "{} spans, {} keys, {} bytes of sketch bins per key",
        spans.len(),
        warm.key_count(),
        bin_bytes / warm.key_count().max(1)
    );
    group.bench_function("steady", |b| {
        b.iter(|| spans.iter().for_each(|span| warm.record(span)));
    });

    group.bench_function("cold_then_drain", |b| {
        b.iter_batched(
            StatsAggregator::default,
            |mut stats| {
                spans.iter().for_each(|span| stats.record(span));
                stats.drain_closed(u64::MAX)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench_record);
criterion_main!(benches);
