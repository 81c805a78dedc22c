//! The stats stage itself: every span, before any sampling, is counted into the 10-second bucket
//! of its end time; closed buckets are handed out for storage and rolled up into minutes and
//! hours.
//!
//! Recording a span allocates nothing once its bucket has seen its key: the resource name is
//! written into a reused buffer, the key is looked up by borrowed text, and a sketch allocates
//! only when a duration falls outside the bins it already has.
//!
//! A span that ends in a bucket that was already closed (a tracer that flushed late) is counted
//! in the oldest open bucket instead, as Datadog's agent does, so no span is lost; such spans are
//! counted in [`StatsCounters::late_spans`].

use std::sync::Arc;

use kiseki_model::{Resource, Span, SpanKind, Str, semconv};

use super::bucket::{Bucket, KeyRef, Resolution};
use super::naming::write_resource_name;
use super::series::{Series, series};

/// How the stats stage bounds its memory and when it closes buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsConfig {
    /// Distinct keys a bucket holds (of any resolution); further keys go to an overflow key.
    pub max_keys_per_bucket: usize,
    /// How long after a 10-second bucket ends it stays open for spans that arrive late.
    pub close_after_nanos: u64,
    /// Open 10-second buckets at most. A span whose end time would open one more (a tracer
    /// with a clock far off, or made-up timestamps) is counted in the newest open bucket.
    pub max_open_buckets: usize,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            max_keys_per_bucket: 10_000,
            close_after_nanos: 10_000_000_000,
            // An hour of buckets.
            max_open_buckets: 360,
        }
    }
}

/// What the stats stage has seen since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsCounters {
    /// Spans recorded.
    pub spans: u64,
    /// Spans whose bucket was already closed, counted in the oldest open bucket.
    pub late_spans: u64,
    /// Spans counted under an overflow key because their 10-second bucket was full.
    pub overflow_spans: u64,
    /// Spans counted in the newest open bucket because [`StatsConfig::max_open_buckets`] were
    /// open and their own bucket was not one of them.
    pub misplaced_spans: u64,
}

/// Statistics of every span, by [`super::StatsKey`], at 10 s, 1 min and 1 h.
pub struct StatsAggregator {
    config: StatsConfig,
    /// Open 10-second buckets, oldest first.
    open: Vec<Bucket>,
    /// Open 1-minute and 1-hour rollups of closed 10-second buckets, oldest first.
    minutes: Vec<Bucket>,
    hours: Vec<Bucket>,
    /// Every 10-second bucket that starts before this instant is closed.
    closed_before: u64,
    /// The resource name of the span being recorded, reused.
    name_buffer: String,
    /// The environment and version of the resource seen last (spans of a batch share one).
    last_resource: Option<(Arc<Resource>, Str, Str)>,
    counters: StatsCounters,
}

impl Default for StatsAggregator {
    fn default() -> Self {
        Self::new(StatsConfig::default())
    }
}

impl StatsAggregator {
    pub fn new(config: StatsConfig) -> Self {
        Self {
            config,
            open: Vec::new(),
            minutes: Vec::new(),
            hours: Vec::new(),
            closed_before: 0,
            name_buffer: String::with_capacity(64),
            last_resource: None,
            counters: StatsCounters::default(),
        }
    }

    pub fn config(&self) -> &StatsConfig {
        &self.config
    }

    pub fn counters(&self) -> StatsCounters {
        self.counters
    }

    /// Counts one span.
    pub fn record(&mut self, span: &Span) {
        let (environment, version) = self.environment_and_version(span);
        let mut name = std::mem::take(&mut self.name_buffer);
        write_resource_name(span, &mut name);
        let key = KeyRef {
            service: span.service_name(),
            resource: &name,
            span_kind: stats_kind(span.kind),
            status: span.status.code,
            environment: &environment,
            version: &version,
        };
        let bucket = self.open_bucket_for(span.end_time_unix_nano);
        let (stats, overflowed) = bucket.stats_for(key);
        stats.record(span.duration_nanos(), span.is_error());
        self.counters.spans += 1;
        self.counters.overflow_spans += u64::from(overflowed);
        self.name_buffer = name;
    }

    /// Closes every 10-second bucket that ended at least [`StatsConfig::close_after_nanos`]
    /// before `now_unix_nano`, rolls them up, and returns them together with every minute and
    /// hour rollup that is complete: 10-second buckets first, then minutes, then hours, each
    /// oldest first. Rollups stay open until all their 10-second buckets are closed.
    pub fn drain_closed(&mut self, now_unix_nano: u64) -> Vec<Bucket> {
        let horizon = Resolution::TenSeconds
            .bucket_start(now_unix_nano.saturating_sub(self.config.close_after_nanos));
        self.closed_before = self.closed_before.max(horizon);
        let still_open = self.open.partition_point(|b| b.start_unix_nano < self.closed_before);
        let closed: Vec<Bucket> = self.open.drain(..still_open).collect();
        let max_keys = self.config.max_keys_per_bucket;
        for bucket in &closed {
            for (rollups, resolution) in
                [(&mut self.minutes, Resolution::OneMinute), (&mut self.hours, Resolution::OneHour)]
            {
                let start = resolution.bucket_start(bucket.start_unix_nano);
                find_or_insert(rollups, resolution, start, max_keys).merge(bucket);
            }
        }
        let mut drained = closed;
        for rollups in [&mut self.minutes, &mut self.hours] {
            let complete = rollups.partition_point(|b| b.end_unix_nano() <= self.closed_before);
            drained.extend(rollups.drain(..complete));
        }
        drained
    }

    /// Every bucket not yet drained: open 10-second buckets, then the open minute and hour
    /// rollups (which hold only closed 10-second buckets, so the three never count a span
    /// twice at one resolution).
    pub fn buckets(&self) -> impl Iterator<Item = &Bucket> {
        self.open.iter().chain(&self.minutes).chain(&self.hours)
    }

    /// Series per key over `[from, to)` in steps of `step`, from the open 10-second buckets: the
    /// recent figures that have not been drained to storage yet.
    pub fn series(&self, from_unix_nano: u64, to_unix_nano: u64, step: Resolution) -> Vec<Series> {
        series(&self.open, from_unix_nano, to_unix_nano, step)
    }

    /// Distinct keys held across all buckets, for memory accounting.
    pub fn key_count(&self) -> usize {
        self.buckets().map(|b| b.entries().len()).sum()
    }

    fn open_bucket_for(&mut self, end_unix_nano: u64) -> &mut Bucket {
        let mut start = Resolution::TenSeconds.bucket_start(end_unix_nano);
        if start < self.closed_before {
            start = self.closed_before;
            self.counters.late_spans += 1;
        }
        let open = self.open.len();
        if open >= self.config.max_open_buckets.max(1)
            && !self.open.iter().rev().any(|b| b.start_unix_nano == start)
        {
            self.counters.misplaced_spans += 1;
            return &mut self.open[open - 1];
        }
        find_or_insert(
            &mut self.open,
            Resolution::TenSeconds,
            start,
            self.config.max_keys_per_bucket,
        )
    }

    /// `deployment.environment.name` (or `deployment.environment`) and `service.version` of the
    /// span's resource, or of the span when the resource has none (formats that copy resource
    /// attributes onto spans).
    fn environment_and_version(&mut self, span: &Span) -> (Str, Str) {
        if let Some((resource, environment, version)) = &self.last_resource
            && Arc::ptr_eq(resource, &span.resource)
        {
            if environment.is_empty() || version.is_empty() {
                return (
                    or_from_span(environment, span, &ENVIRONMENT_KEYS),
                    or_from_span(version, span, &[semconv::SERVICE_VERSION]),
                );
            }
            return (environment.clone(), version.clone());
        }
        let attributes = &span.resource.attributes;
        let text = |keys: &[&str]| {
            keys.iter()
                .find_map(|key| attributes.get_str(key).filter(|v| !v.is_empty()))
                .map(Str::from)
                .unwrap_or_default()
        };
        let environment = text(&ENVIRONMENT_KEYS);
        let version = text(&[semconv::SERVICE_VERSION]);
        self.last_resource = Some((Arc::clone(&span.resource), environment, version));
        self.environment_and_version(span)
    }
}

/// Unspecified counts as internal, as OpenTelemetry allows receivers to assume: Jaeger and
/// Zipkin carry no kind for internal spans, and one operation must have one key whatever format
/// it came in.
fn stats_kind(kind: SpanKind) -> SpanKind {
    match kind {
        SpanKind::Unspecified => SpanKind::Internal,
        other => other,
    }
}

const ENVIRONMENT_KEYS: [&str; 2] =
    [semconv::DEPLOYMENT_ENVIRONMENT_NAME, semconv::DEPLOYMENT_ENVIRONMENT];

fn or_from_span(value: &Str, span: &Span, keys: &[&str]) -> Str {
    if !value.is_empty() {
        return value.clone();
    }
    keys.iter()
        .find_map(|key| span.attributes.get_str(key).filter(|v| !v.is_empty()))
        .map(Str::from)
        .unwrap_or_default()
}

/// The bucket that starts at `start` in a list sorted by start, inserted if missing. Searches
/// from the newest end, where spans almost always land.
fn find_or_insert(
    buckets: &mut Vec<Bucket>,
    resolution: Resolution,
    start: u64,
    max_keys: usize,
) -> &mut Bucket {
    let position = match buckets.iter().rposition(|b| b.start_unix_nano <= start) {
        Some(i) if buckets[i].start_unix_nano == start => i,
        Some(i) => {
            buckets.insert(i + 1, Bucket::new(resolution, start, max_keys));
            i + 1
        }
        None => {
            buckets.insert(0, Bucket::new(resolution, start, max_keys));
            0
        }
    };
    &mut buckets[position]
}

#[cfg(test)]
mod tests {
    use kiseki_model::{SpanId, Status, StatusCode, TraceId};

    use super::*;
    use crate::stats::StatsKey;

    const SECOND: u64 = 1_000_000_000;
    /// A round time, so bucket boundaries are easy to read: 2026-01-01T00:00:00Z.
    const T0: u64 = 1_767_225_600 * SECOND;

    fn resource(service: &str, environment: &str, version: &str) -> Arc<Resource> {
        let mut resource = Resource::for_service(service);
        resource.attributes.push(semconv::DEPLOYMENT_ENVIRONMENT_NAME, environment);
        resource.attributes.push(semconv::SERVICE_VERSION, version);
        Arc::new(resource)
    }

    fn span(resource: &Arc<Resource>, route: &str, end: u64, millis: u64, error: bool) -> Span {
        let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(1).unwrap());
        span.name = "GET".into();
        span.kind = SpanKind::Server;
        span.attributes.push(semconv::HTTP_REQUEST_METHOD, "GET");
        span.attributes.push(semconv::HTTP_ROUTE, route);
        span.start_time_unix_nano = end - millis * 1_000_000;
        span.end_time_unix_nano = end;
        span.resource = Arc::clone(resource);
        if error {
            span.status = Status::error("boom");
        }
        span
    }

    fn key(
        service: &str,
        resource: &str,
        status: StatusCode,
        environment: &str,
        version: &str,
    ) -> StatsKey {
        StatsKey {
            service: service.into(),
            resource: resource.into(),
            span_kind: SpanKind::Server,
            status,
            environment: environment.into(),
            version: version.into(),
        }
    }

    fn total(buckets: &[Bucket], resolution: Resolution, key: &StatsKey) -> (u64, u64) {
        buckets
            .iter()
            .filter(|b| b.resolution == resolution)
            .filter_map(|b| b.get(key))
            .fold((0, 0), |(count, errors), s| (count + s.count, errors + s.errors))
    }

    #[test]
    fn spans_are_counted_per_key_in_the_bucket_of_their_end() {
        let cart = resource("cart", "prod", "1.4.2");
        let mut stats = StatsAggregator::default();
        stats.record(&span(&cart, "/cart", T0 + SECOND, 5, false));
        stats.record(&span(&cart, "/cart", T0 + 9 * SECOND, 7, false));
        stats.record(&span(&cart, "/cart", T0 + 9 * SECOND, 70, true));
        stats.record(&span(&cart, "/cart", T0 + 10 * SECOND, 9, false));
        let buckets: Vec<&Bucket> = stats.buckets().collect();
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].start_unix_nano, T0);
        let ok =
            buckets[0].get(&key("cart", "GET /cart", StatusCode::Unset, "prod", "1.4.2")).unwrap();
        assert_eq!((ok.count, ok.errors, ok.total_duration_nanos), (2, 0, 12_000_000));
        let failed =
            buckets[0].get(&key("cart", "GET /cart", StatusCode::Error, "prod", "1.4.2")).unwrap();
        assert_eq!((failed.count, failed.errors), (1, 1));
        assert_eq!(buckets[1].start_unix_nano, T0 + 10 * SECOND);
        assert_eq!(buckets[1].span_count(), 1);
    }

    #[test]
    fn closed_buckets_are_drained_and_rolled_up_with_exact_counts() {
        let cart = resource("cart", "prod", "1.4.2");
        let mut stats = StatsAggregator::default();
        // One span per second for 130 s, every tenth an error.
        for second in 0..130 {
            stats.record(&span(&cart, "/cart", T0 + second * SECOND, 1 + second, second % 10 == 3));
        }
        // At T0 + 75 s, buckets ending by T0 + 65 s are closed: six 10 s buckets, one minute.
        let drained = stats.drain_closed(T0 + 75 * SECOND);
        let resolutions: Vec<Resolution> = drained.iter().map(|b| b.resolution).collect();
        assert_eq!(
            resolutions,
            [[Resolution::TenSeconds; 6].as_slice(), &[Resolution::OneMinute]].concat()
        );
        let ok = key("cart", "GET /cart", StatusCode::Unset, "prod", "1.4.2");
        let failed = key("cart", "GET /cart", StatusCode::Error, "prod", "1.4.2");
        assert_eq!(total(&drained, Resolution::TenSeconds, &ok), (54, 0));
        assert_eq!(total(&drained, Resolution::TenSeconds, &failed), (6, 6));
        assert_eq!(total(&drained, Resolution::OneMinute, &ok), (54, 0));
        assert_eq!(total(&drained, Resolution::OneMinute, &failed), (6, 6));
        // Nothing is closed twice.
        assert!(stats.drain_closed(T0 + 75 * SECOND).is_empty());
        // An hour later everything is closed, the hour holds all 130 spans.
        let rest = stats.drain_closed(T0 + 3_700 * SECOND);
        assert_eq!(
            total(&rest, Resolution::TenSeconds, &ok).0
                + total(&rest, Resolution::TenSeconds, &failed).0,
            70
        );
        assert_eq!(total(&rest, Resolution::OneMinute, &failed), (7, 7));
        assert_eq!(total(&rest, Resolution::OneHour, &ok), (117, 0));
        assert_eq!(total(&rest, Resolution::OneHour, &failed), (13, 13));
        let hour = rest.iter().find(|b| b.resolution == Resolution::OneHour).unwrap();
        let durations = &hour.get(&ok).unwrap().durations;
        assert_eq!(durations.count(), 117);
        assert_eq!(durations.max_nanos(), Some(130.0 * 1e6));
        assert_eq!(stats.buckets().count(), 0);
    }

    #[test]
    fn a_span_for_a_closed_bucket_counts_in_the_oldest_open_one() {
        let cart = resource("cart", "prod", "1");
        let mut stats = StatsAggregator::default();
        stats.record(&span(&cart, "/cart", T0 + SECOND, 1, false));
        let drained = stats.drain_closed(T0 + 40 * SECOND);
        assert_eq!(drained[0].span_count(), 1);
        stats.record(&span(&cart, "/cart", T0 + 2 * SECOND, 1, false));
        let open: Vec<&Bucket> =
            stats.buckets().filter(|b| b.resolution == Resolution::TenSeconds).collect();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].start_unix_nano, T0 + 30 * SECOND);
        let counters = stats.counters();
        assert_eq!((counters.spans, counters.late_spans), (2, 1));
    }

    #[test]
    fn keys_beyond_the_cap_go_to_an_overflow_key_and_are_counted() {
        let cart = resource("cart", "prod", "1");
        let config = StatsConfig { max_keys_per_bucket: 2, ..StatsConfig::default() };
        let mut stats = StatsAggregator::new(config);
        for (i, route) in ["/a", "/b", "/c", "/d", "/c"].iter().enumerate() {
            stats.record(&span(&cart, route, T0 + SECOND, 1, i == 3));
        }
        let bucket = stats.buckets().next().unwrap();
        assert_eq!(bucket.entries().len(), 4);
        assert_eq!(bucket.get(&StatsKey::overflow(StatusCode::Unset)).unwrap().count, 2);
        let overflow_errors = bucket.get(&StatsKey::overflow(StatusCode::Error)).unwrap();
        assert_eq!((overflow_errors.count, overflow_errors.errors), (1, 1));
        assert_eq!(bucket.overflow_spans(), 3);
        assert_eq!(bucket.span_count(), 5);
        assert_eq!(stats.counters().overflow_spans, 3);
        // The rollup keeps the same cap and the exact total.
        let drained = stats.drain_closed(T0 + 4_000 * SECOND);
        let hour = drained.iter().find(|b| b.resolution == Resolution::OneHour).unwrap();
        assert_eq!(hour.span_count(), 5);
        assert_eq!(hour.overflow_spans(), 3);
    }

    #[test]
    fn spans_beyond_the_open_bucket_limit_count_in_the_newest_bucket() {
        let cart = resource("cart", "prod", "1");
        let config = StatsConfig { max_open_buckets: 2, ..StatsConfig::default() };
        let mut stats = StatsAggregator::new(config);
        for year in 0..5 {
            stats.record(&span(&cart, "/cart", T0 + year * 31_536_000 * SECOND, 1, false));
        }
        let starts: Vec<u64> = stats.buckets().map(|b| b.start_unix_nano).collect();
        assert_eq!(starts, [T0, T0 + 31_536_000 * SECOND]);
        assert_eq!(stats.counters().misplaced_spans, 3);
        assert_eq!(stats.buckets().map(Bucket::span_count).sum::<u64>(), 5);
    }

    #[test]
    fn environment_and_version_come_from_the_resource_or_else_the_span() {
        let mut old = Resource::for_service("cart");
        old.attributes.push(semconv::DEPLOYMENT_ENVIRONMENT, "staging");
        let old = Arc::new(old);
        let mut stats = StatsAggregator::default();
        let mut tagged = span(&old, "/cart", T0 + SECOND, 1, false);
        tagged.attributes.push(semconv::SERVICE_VERSION, "2.0.0");
        stats.record(&tagged);
        stats.record(&span(&old, "/cart", T0 + SECOND, 1, false));
        let bucket = stats.buckets().next().unwrap();
        assert_eq!(
            bucket
                .get(&key("cart", "GET /cart", StatusCode::Unset, "staging", "2.0.0"))
                .unwrap()
                .count,
            1
        );
        assert_eq!(
            bucket.get(&key("cart", "GET /cart", StatusCode::Unset, "staging", "")).unwrap().count,
            1
        );
    }

    #[test]
    fn series_merge_ten_second_buckets_into_minutes() {
        let cart = resource("cart", "prod", "1");
        let mut stats = StatsAggregator::default();
        for second in 0..120 {
            stats.record(&span(&cart, "/cart", T0 + second * SECOND, 10, second == 61));
        }
        let series = stats.series(T0, T0 + 120 * SECOND, Resolution::OneMinute);
        assert_eq!(series.len(), 2);
        let ok = &series[0];
        assert_eq!(ok.key.status, StatusCode::Unset);
        let counts: Vec<(u64, u64)> =
            ok.points.iter().map(|p| (p.start_unix_nano, p.count)).collect();
        assert_eq!(counts, [(T0, 60), (T0 + 60 * SECOND, 59)]);
        let p99 = ok.points[0].p99_nanos.unwrap();
        assert!((p99 - 10e6).abs() <= 0.01 * 10e6);
        assert_eq!(series[1].points[0].errors, 1);
        // A window that starts mid-minute takes only the 10 s buckets inside it.
        let late = stats.series(T0 + 30 * SECOND, T0 + 60 * SECOND, Resolution::TenSeconds);
        assert_eq!(late[0].points.len(), 3);
    }
}
