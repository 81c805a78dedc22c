//! Reading statistics back as series: for each key, the figures of every step of a time range,
//! from buckets of any resolution finer than or equal to the step (open ones in memory, or
//! buckets read back from storage).

use std::collections::BTreeMap;

use super::bucket::{Bucket, KeyStats, Resolution, StatsKey};

/// The figures of one key over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub key: StatsKey,
    /// Steps that have spans, oldest first.
    pub points: Vec<SeriesPoint>,
}

/// The figures of one key in one step.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesPoint {
    pub start_unix_nano: u64,
    pub count: u64,
    pub errors: u64,
    pub total_duration_nanos: u64,
    /// Latency percentiles in nanoseconds, within the sketch's relative accuracy.
    pub p50_nanos: Option<f64>,
    pub p95_nanos: Option<f64>,
    pub p99_nanos: Option<f64>,
}

impl SeriesPoint {
    fn from_stats(start_unix_nano: u64, stats: &KeyStats) -> Self {
        Self {
            start_unix_nano,
            count: stats.count,
            errors: stats.errors,
            total_duration_nanos: stats.total_duration_nanos,
            p50_nanos: stats.durations.quantile_nanos(0.50),
            p95_nanos: stats.durations.quantile_nanos(0.95),
            p99_nanos: stats.durations.quantile_nanos(0.99),
        }
    }
}

/// Series per key, sorted by key, over the buckets that start in `[from, to)`, merged into steps
/// of `step`. Buckets coarser than `step` cannot be split and are left out; give buckets of one
/// resolution, or a span would count once per resolution.
pub fn series<'a>(
    buckets: impl IntoIterator<Item = &'a Bucket>,
    from_unix_nano: u64,
    to_unix_nano: u64,
    step: Resolution,
) -> Vec<Series> {
    let mut merged: BTreeMap<&StatsKey, BTreeMap<u64, KeyStats>> = BTreeMap::new();
    for bucket in buckets {
        if bucket.resolution > step
            || bucket.start_unix_nano < from_unix_nano
            || bucket.start_unix_nano >= to_unix_nano
        {
            continue;
        }
        let step_start = step.bucket_start(bucket.start_unix_nano);
        for (key, stats) in bucket.entries() {
            merged.entry(key).or_default().entry(step_start).or_default().merge(stats);
        }
    }
    merged
        .into_iter()
        .map(|(key, steps)| Series {
            key: key.clone(),
            points: steps
                .iter()
                .map(|(&start, stats)| SeriesPoint::from_stats(start, stats))
                .collect(),
        })
        .collect()
}
