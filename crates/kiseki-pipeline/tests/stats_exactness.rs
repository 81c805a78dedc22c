//! The stats stage counts exactly: seeded shop traffic in, and every key's count and error count
//! out equal what a plain count of the same spans gives, at every resolution; percentiles are
//! within the sketch's relative accuracy of the exact ones. And because the stage runs before
//! sampling, a sampler that drops 90 % of the traces afterwards changes none of the figures,
//! while the same figures computed from the kept spans would be far off.

use std::collections::BTreeMap;

use kiseki_model::{Span, SpanKind, TraceId};
use kiseki_pipeline::stats::{
    Bucket, RELATIVE_ACCURACY, Resolution, StatsAggregator, StatsKey, resource_name,
};
use kiseki_testkit::Generator;

const SECOND: u64 = 1_000_000_000;
/// 2026-01-01T00:00:00Z, so buckets of every resolution start on it.
const T0: u64 = 1_767_225_600 * SECOND;

/// Seeded traffic: one trace every 40 ms for `seconds`.
fn traffic(seed: u64, seconds: u64) -> Vec<Span> {
    let mut generator = Generator::new(seed);
    let mut spans = Vec::new();
    let mut start = T0;
    while start < T0 + seconds * SECOND {
        spans.extend(generator.trace(start));
        start += 40_000_000;
    }
    spans
}

/// The key a span belongs to, computed the plain way.
fn key_of(span: &Span) -> StatsKey {
    let attribute = |keys: &[&str]| {
        keys.iter().find_map(|key| span.resource.attributes.get_str(key)).unwrap_or_default().into()
    };
    StatsKey {
        service: span.service_name().into(),
        resource: resource_name(span),
        span_kind: match span.kind {
            SpanKind::Unspecified => SpanKind::Internal,
            kind => kind,
        },
        status: span.status.code,
        environment: attribute(&["deployment.environment.name", "deployment.environment"]),
        version: attribute(&["service.version"]),
    }
}

#[derive(Default, Debug, PartialEq)]
struct Exact {
    count: u64,
    errors: u64,
    durations: Vec<u64>,
}

/// Exact figures per (bucket start, key) at a resolution.
fn exact(spans: &[Span], resolution: Resolution) -> BTreeMap<(u64, StatsKey), Exact> {
    let mut figures: BTreeMap<(u64, StatsKey), Exact> = BTreeMap::new();
    for span in spans {
        let start = resolution.bucket_start(span.end_time_unix_nano);
        let entry = figures.entry((start, key_of(span))).or_default();
        entry.count += 1;
        entry.errors += u64::from(span.is_error());
        entry.durations.push(span.duration_nanos());
    }
    figures
}

/// (count, errors) per (bucket start, key) of the drained buckets of one resolution.
fn counted(buckets: &[Bucket], resolution: Resolution) -> BTreeMap<(u64, StatsKey), (u64, u64)> {
    let mut figures = BTreeMap::new();
    for bucket in buckets.iter().filter(|b| b.resolution == resolution) {
        for (key, stats) in bucket.entries() {
            let previous =
                figures.insert((bucket.start_unix_nano, key.clone()), (stats.count, stats.errors));
            assert!(previous.is_none(), "{key:?} twice in one bucket");
        }
    }
    figures
}

fn exact_counts(
    figures: &BTreeMap<(u64, StatsKey), Exact>,
) -> BTreeMap<(u64, StatsKey), (u64, u64)> {
    figures.iter().map(|(k, e)| (k.clone(), (e.count, e.errors))).collect()
}

/// Records every span, then drains everything.
fn run_stats_stage(spans: &[Span]) -> Vec<Bucket> {
    let mut stats = StatsAggregator::default();
    for span in spans {
        stats.record(span);
    }
    stats.drain_closed(T0 + 3 * 3_600 * SECOND)
}

/// Keeps one trace in ten, decided by the trace id alone, as a head or tail sampler would.
fn sampled(trace_id: TraceId) -> bool {
    trace_id.get().wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 64 < (u64::MAX / 10) as u128
}

#[test]
fn counts_and_errors_are_exact_per_key_at_every_resolution() {
    let spans = traffic(7, 150);
    let buckets = run_stats_stage(&spans);
    for resolution in Resolution::ALL {
        let expected = exact(&spans, resolution);
        assert!(expected.values().any(|e| e.errors > 0), "the traffic has errors");
        assert_eq!(counted(&buckets, resolution), exact_counts(&expected), "{resolution:?}");
    }
    let total: u64 = buckets
        .iter()
        .filter(|b| b.resolution == Resolution::OneHour)
        .map(Bucket::span_count)
        .sum();
    assert_eq!(total, spans.len() as u64);
}

#[test]
fn percentiles_are_within_the_sketch_accuracy() {
    let spans = traffic(11, 120);
    let buckets = run_stats_stage(&spans);
    let expected = exact(&spans, Resolution::OneMinute);
    let mut checked = 0;
    for bucket in buckets.iter().filter(|b| b.resolution == Resolution::OneMinute) {
        for (key, stats) in bucket.entries() {
            let mut durations = expected[&(bucket.start_unix_nano, key.clone())].durations.clone();
            durations.sort_unstable();
            for q in [0.5, 0.95, 0.99] {
                let exact = durations[(q * (durations.len() - 1) as f64) as usize] as f64;
                let estimate = stats.durations.quantile_nanos(q).unwrap();
                assert!(
                    (estimate - exact).abs() <= RELATIVE_ACCURACY * exact * (1.0 + 1e-9),
                    "{key:?} q {q}: {estimate} vs {exact}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} percentiles checked");
}

#[test]
fn sampling_after_the_stats_stage_changes_no_figure_and_before_it_would() {
    let spans = traffic(23, 120);
    let truth = exact(&spans, Resolution::OneMinute);

    // The pipeline: every span through the stats stage, then the sampler.
    let mut stats = StatsAggregator::default();
    let mut kept = Vec::new();
    for span in &spans {
        stats.record(span);
        if sampled(span.trace_id) {
            kept.push(span.clone());
        }
    }
    let share = kept.len() as f64 / spans.len() as f64;
    assert!((0.05..0.15).contains(&share), "the sampler kept {share}");
    let buckets = stats.drain_closed(T0 + 3 * 3_600 * SECOND);
    assert_eq!(counted(&buckets, Resolution::OneMinute), exact_counts(&truth));

    // The same figures computed from what the sampler kept are off, key by key and in total.
    let after_sampling = counted(&run_stats_stage(&kept), Resolution::OneMinute);
    let differing = truth
        .iter()
        .filter(|(key, exact)| after_sampling.get(*key) != Some(&(exact.count, exact.errors)))
        .count();
    assert!(differing * 10 > truth.len() * 9, "{differing} of {} keys differ", truth.len());
    let total_after: u64 = after_sampling.values().map(|(count, _)| count).sum();
    assert_eq!(total_after, kept.len() as u64);
    assert!(total_after * 5 < spans.len() as u64);
}
