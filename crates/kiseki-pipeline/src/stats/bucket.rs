//! One time bucket of statistics: for every key seen in the bucket's interval, the count, the
//! errors, the total duration and the sketch of durations. Buckets of one resolution merge into
//! buckets of a coarser one with exact counts.

use std::hash::BuildHasher;

use kiseki_model::{SpanKind, StatusCode, Str};
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::sketch::LatencySketch;

/// How long a bucket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    TenSeconds,
    OneMinute,
    OneHour,
}

impl Resolution {
    pub const ALL: [Resolution; 3] =
        [Resolution::TenSeconds, Resolution::OneMinute, Resolution::OneHour];

    pub const fn nanos(self) -> u64 {
        match self {
            Resolution::TenSeconds => 10_000_000_000,
            Resolution::OneMinute => 60_000_000_000,
            Resolution::OneHour => 3_600_000_000_000,
        }
    }

    /// The start of the bucket that holds the instant `unix_nano`.
    pub const fn bucket_start(self, unix_nano: u64) -> u64 {
        unix_nano - unix_nano % self.nanos()
    }

    /// `10s`, `1m` or `1h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::TenSeconds => "10s",
            Resolution::OneMinute => "1m",
            Resolution::OneHour => "1h",
        }
    }
}

/// What statistics are grouped by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StatsKey {
    pub service: Str,
    /// See [`super::naming`].
    pub resource: Str,
    /// A span of unspecified kind counts as internal; only [`StatsKey::overflow`] keys have
    /// [`SpanKind::Unspecified`].
    pub span_kind: SpanKind,
    pub status: StatusCode,
    /// `deployment.environment.name` (or the older `deployment.environment`), empty if none.
    pub environment: Str,
    /// `service.version`, empty if none.
    pub version: Str,
}

/// The name every field of [`StatsKey::overflow`] has but the status.
pub const OVERFLOW_NAME: &str = "other";

/// By service, resource, kind, status (unset, ok, error), environment, version.
impl Ord for StatsKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.service.as_str(), self.resource.as_str(), self.span_kind, self.status as u8)
            .cmp(&(
                other.service.as_str(),
                other.resource.as_str(),
                other.span_kind,
                other.status as u8,
            ))
            .then_with(|| self.environment.as_str().cmp(other.environment.as_str()))
            .then_with(|| self.version.as_str().cmp(other.version.as_str()))
    }
}

impl PartialOrd for StatsKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl StatsKey {
    /// The key that spans go to once a bucket holds its maximum of keys. The status is kept, so
    /// the total error count stays exact.
    pub fn overflow(status: StatusCode) -> Self {
        let other = Str::from(OVERFLOW_NAME);
        Self {
            service: other.clone(),
            resource: other.clone(),
            span_kind: SpanKind::Unspecified,
            status,
            environment: other.clone(),
            version: other,
        }
    }

    pub fn is_overflow(&self) -> bool {
        *self == Self::overflow(self.status)
    }

    fn as_ref(&self) -> KeyRef<'_> {
        KeyRef {
            service: &self.service,
            resource: &self.resource,
            span_kind: self.span_kind,
            status: self.status,
            environment: &self.environment,
            version: &self.version,
        }
    }
}

/// A [`StatsKey`] made of borrowed text, to look a span's key up without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct KeyRef<'a> {
    pub service: &'a str,
    pub resource: &'a str,
    pub span_kind: SpanKind,
    pub status: StatusCode,
    pub environment: &'a str,
    pub version: &'a str,
}

impl KeyRef<'_> {
    fn hash64(&self) -> u64 {
        FxBuildHasher.hash_one(self)
    }

    /// An owned key; `Str` keeps text of up to 23 bytes inline, so this allocates only for
    /// long names, and only when a bucket sees a key for the first time.
    fn to_owned_key(self) -> StatsKey {
        StatsKey {
            service: Str::from(self.service),
            resource: Str::from(self.resource),
            span_kind: self.span_kind,
            status: self.status,
            environment: Str::from(self.environment),
            version: Str::from(self.version),
        }
    }
}

/// The figures of one key in one bucket.
#[derive(Clone, Debug, Default)]
pub struct KeyStats {
    /// Spans.
    pub count: u64,
    /// Spans with status error.
    pub errors: u64,
    /// Sum of the spans' durations, saturating.
    pub total_duration_nanos: u64,
    /// The spans' durations.
    pub durations: LatencySketch,
}

impl KeyStats {
    pub fn record(&mut self, duration_nanos: u64, is_error: bool) {
        self.count += 1;
        self.errors += u64::from(is_error);
        self.total_duration_nanos = self.total_duration_nanos.saturating_add(duration_nanos);
        self.durations.add_nanos(duration_nanos);
    }

    pub fn merge(&mut self, other: &KeyStats) {
        self.count += other.count;
        self.errors += other.errors;
        self.total_duration_nanos =
            self.total_duration_nanos.saturating_add(other.total_duration_nanos);
        self.durations.merge(&other.durations);
    }
}

/// The statistics of every key in one interval `[start, start + resolution)`.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub resolution: Resolution,
    pub start_unix_nano: u64,
    entries: Vec<(StatsKey, KeyStats)>,
    /// Hash of a key → its index in `entries`. Collisions probe the next hash values.
    index: FxHashMap<u64, u32>,
    max_keys: usize,
    /// Spans counted under an overflow key because the bucket was full.
    overflow_spans: u64,
}

impl Bucket {
    /// An empty bucket that holds at most `max_keys` keys besides the overflow keys.
    pub fn new(resolution: Resolution, start_unix_nano: u64, max_keys: usize) -> Self {
        Self {
            resolution,
            start_unix_nano,
            entries: Vec::new(),
            index: FxHashMap::default(),
            max_keys,
            overflow_spans: 0,
        }
    }

    pub fn end_unix_nano(&self) -> u64 {
        self.start_unix_nano.saturating_add(self.resolution.nanos())
    }

    /// Every key and its figures, in the order the keys were first seen.
    pub fn entries(&self) -> &[(StatsKey, KeyStats)] {
        &self.entries
    }

    pub fn get(&self, key: &StatsKey) -> Option<&KeyStats> {
        self.find(key.as_ref(), key.as_ref().hash64()).map(|i| &self.entries[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Spans that went to an overflow key because the bucket already held its maximum of keys.
    pub fn overflow_spans(&self) -> u64 {
        self.overflow_spans
    }

    /// All spans of the bucket.
    pub fn span_count(&self) -> u64 {
        self.entries.iter().map(|(_, stats)| stats.count).sum()
    }

    /// Adds figures under a key, merging with what the key already has. This is how buckets
    /// read back from storage are rebuilt, and how rollups are made.
    pub fn merge_entry(&mut self, key: &StatsKey, stats: &KeyStats) {
        let (slot, overflowed) = self.slot(key.as_ref(), || key.clone());
        self.entries[slot].1.merge(stats);
        if overflowed {
            self.overflow_spans += stats.count;
        }
    }

    /// Adds every key of another bucket (of this resolution or a finer one) to this one.
    pub fn merge(&mut self, other: &Bucket) {
        for (key, stats) in &other.entries {
            self.merge_entry(key, stats);
        }
        self.overflow_spans += other.overflow_spans;
    }

    /// The figures to record a span into, and whether they are an overflow key's.
    pub(crate) fn stats_for(&mut self, key: KeyRef<'_>) -> (&mut KeyStats, bool) {
        let (slot, overflowed) = self.slot(key, || key.to_owned_key());
        if overflowed {
            self.overflow_spans += 1;
        }
        (&mut self.entries[slot].1, overflowed)
    }

    /// The index of a key's entry, created if needed, and whether the span or figures went to
    /// an overflow key because the bucket was full.
    fn slot(&mut self, key: KeyRef<'_>, owned: impl FnOnce() -> StatsKey) -> (usize, bool) {
        let hash = key.hash64();
        if let Some(slot) = self.find(key, hash) {
            return (slot, false);
        }
        let overflow = StatsKey::overflow(key.status);
        if self.entries.len() < self.max_keys || key == overflow.as_ref() {
            return (self.insert(hash, owned()), false);
        }
        let overflow_hash = overflow.as_ref().hash64();
        let slot = match self.find(overflow.as_ref(), overflow_hash) {
            Some(slot) => slot,
            None => self.insert(overflow_hash, overflow),
        };
        (slot, true)
    }

    fn insert(&mut self, hash: u64, key: StatsKey) -> usize {
        let mut probe = hash;
        while self.index.contains_key(&probe) {
            probe = probe.wrapping_add(1);
        }
        let slot = self.entries.len();
        self.index.insert(probe, slot as u32);
        self.entries.push((key, KeyStats::default()));
        slot
    }

    fn find(&self, key: KeyRef<'_>, hash: u64) -> Option<usize> {
        let mut probe = hash;
        loop {
            let slot = *self.index.get(&probe)? as usize;
            if self.entries[slot].0.as_ref() == key {
                return Some(slot);
            }
            probe = probe.wrapping_add(1);
        }
    }
}
