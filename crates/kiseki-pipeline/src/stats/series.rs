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
    series_by(buckets, from_unix_nano, to_unix_nano, step, |key| Some(key.clone()))
        .into_iter()
        .map(|(key, points)| Series { key, points })
        .collect()
}

/// Like [`series`], with keys grouped by `group`: `None` leaves a key out, keys that map to the
/// same group are merged (exact counts, merged sketches). For example
/// `|key| (key.service == "cart").then(|| key.resource.clone())` gives the endpoints of the
/// `cart` service, every status, version and environment together.
pub fn series_by<'a, G: Ord>(
    buckets: impl IntoIterator<Item = &'a Bucket>,
    from_unix_nano: u64,
    to_unix_nano: u64,
    step: Resolution,
    mut group: impl FnMut(&StatsKey) -> Option<G>,
) -> Vec<(G, Vec<SeriesPoint>)> {
    let mut merged: BTreeMap<G, BTreeMap<u64, KeyStats>> = BTreeMap::new();
    for bucket in buckets {
        if bucket.resolution > step
            || bucket.start_unix_nano < from_unix_nano
            || bucket.start_unix_nano >= to_unix_nano
        {
            continue;
        }
        let step_start = step.bucket_start(bucket.start_unix_nano);
        for (key, stats) in bucket.entries() {
            if let Some(group) = group(key) {
                merged.entry(group).or_default().entry(step_start).or_default().merge(stats);
            }
        }
    }
    merged
        .into_iter()
        .map(|(group, steps)| {
            let points =
                steps.iter().map(|(&start, stats)| SeriesPoint::from_stats(start, stats)).collect();
            (group, points)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kiseki_model::{SpanKind, StatusCode};

    use super::*;

    const SECOND: u64 = 1_000_000_000;

    fn key(service: &str, resource: &str, status: StatusCode) -> StatsKey {
        StatsKey {
            service: service.into(),
            resource: resource.into(),
            span_kind: SpanKind::Server,
            status,
            environment: "prod".into(),
            version: "1".into(),
        }
    }

    fn stats(durations_millis: &[u64], error: bool) -> KeyStats {
        let mut stats = KeyStats::default();
        for millis in durations_millis {
            stats.record(millis * 1_000_000, error);
        }
        stats
    }

    #[test]
    fn groups_merge_keys_with_exact_counts_and_merged_percentiles() {
        let mut first = Bucket::new(Resolution::TenSeconds, 0, 100);
        first.merge_entry(&key("cart", "GET /cart", StatusCode::Unset), &stats(&[1, 2, 3], false));
        first.merge_entry(&key("cart", "GET /cart", StatusCode::Error), &stats(&[100], true));
        first.merge_entry(&key("cart", "POST /cart", StatusCode::Unset), &stats(&[5], false));
        first.merge_entry(&key("shop", "GET /", StatusCode::Unset), &stats(&[9], false));
        let mut second = Bucket::new(Resolution::TenSeconds, 10 * SECOND, 100);
        second.merge_entry(&key("cart", "GET /cart", StatusCode::Unset), &stats(&[4], false));
        // Coarser than the step: left out.
        let hour = Bucket::new(Resolution::OneHour, 0, 100);

        let per_endpoint =
            series_by([&first, &second, &hour], 0, 60 * SECOND, Resolution::OneMinute, |key| {
                (key.service == "cart").then(|| key.resource.clone())
            });
        assert_eq!(per_endpoint.len(), 2);
        let (resource, points) = &per_endpoint[0];
        assert_eq!(resource, "GET /cart");
        assert_eq!(points.len(), 1);
        assert_eq!((points[0].count, points[0].errors), (5, 1));
        assert_eq!(points[0].total_duration_nanos, 110_000_000);
        let p99 = points[0].p99_nanos.unwrap();
        assert!((p99 - 4e6).abs() <= 0.01 * 4e6, "{p99}");

        let per_key = series([&first, &second], 0, 60 * SECOND, Resolution::TenSeconds);
        assert_eq!(per_key.len(), 4);
        let get_cart_ok =
            per_key.iter().find(|s| s.key == key("cart", "GET /cart", StatusCode::Unset)).unwrap();
        let steps: Vec<(u64, u64)> =
            get_cart_ok.points.iter().map(|p| (p.start_unix_nano, p.count)).collect();
        assert_eq!(steps, [(0, 3), (10 * SECOND, 1)]);
    }
}
