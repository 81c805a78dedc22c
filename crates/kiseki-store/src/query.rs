//! What a search asks for and what it returns, with the matching rules every store shares.
//!
//! A trace matches a [`TraceQuery`] when **one of its spans** satisfies every condition at once
//! (service, operation, attributes, duration, error, time range), as in Jaeger. The result is a
//! [`TraceSummary`] of the whole trace, not of the matching span.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use kiseki_model::{AnyValue, Span, SpanKind, Str, TraceId};

/// The most results one search returns, whatever the caller asks for.
pub const MAX_SEARCH_LIMIT: usize = 10_000;

/// The number of results when the caller does not say.
pub const DEFAULT_SEARCH_LIMIT: usize = 20;

/// A trace search. All conditions hold for the same span; absent ones match everything.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceQuery {
    pub service: Option<String>,
    pub operation: Option<String>,
    /// `key=value` conditions, all of which must hold.
    pub attributes: Vec<AttributeFilter>,
    pub min_duration_nanos: Option<u64>,
    pub max_duration_nanos: Option<u64>,
    /// Only spans whose status is error.
    pub errors_only: bool,
    /// The span starts at or after this time.
    pub start_unix_nano: u64,
    /// The span starts at or before this time.
    pub end_unix_nano: u64,
    /// The most traces to return, newest first; capped at [`MAX_SEARCH_LIMIT`].
    pub limit: usize,
}

impl Default for TraceQuery {
    fn default() -> Self {
        Self {
            service: None,
            operation: None,
            attributes: Vec::new(),
            min_duration_nanos: None,
            max_duration_nanos: None,
            errors_only: false,
            start_unix_nano: 0,
            end_unix_nano: u64::MAX,
            limit: DEFAULT_SEARCH_LIMIT,
        }
    }
}

impl TraceQuery {
    /// The limit a store applies: at least one, at most [`MAX_SEARCH_LIMIT`].
    pub fn effective_limit(&self) -> usize {
        self.limit.clamp(1, MAX_SEARCH_LIMIT)
    }

    /// Whether `span` satisfies every condition of the query.
    pub fn matches(&self, span: &Span) -> bool {
        let start = span.start_time_unix_nano;
        let duration = span.duration_nanos();
        start >= self.start_unix_nano
            && start <= self.end_unix_nano
            && self.service.as_deref().is_none_or(|s| span.service_name() == s)
            && self.operation.as_deref().is_none_or(|o| span.name == o)
            && self.min_duration_nanos.is_none_or(|min| duration >= min)
            && self.max_duration_nanos.is_none_or(|max| duration <= max)
            && (!self.errors_only || span.is_error())
            && self.attributes.iter().all(|filter| filter.matches_span(span))
    }
}

/// One `key=value` search condition.
///
/// It holds when the span, or the resource that sent it, has the attribute and the value reads
/// as `value` (`500` matches the integer 500, `true` the boolean).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeFilter {
    pub key: String,
    pub value: String,
}

impl AttributeFilter {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.into() }
    }

    /// Parses `key=value`; the key is everything before the first `=`.
    pub fn parse(text: &str) -> Option<Self> {
        let (key, value) = text.split_once('=')?;
        let key = key.trim();
        (!key.is_empty()).then(|| Self::new(key, value.trim()))
    }

    pub fn matches_value(&self, value: &AnyValue) -> bool {
        value_reads_as(value, &self.value)
    }

    pub fn matches_span(&self, span: &Span) -> bool {
        let key = self.key.as_str();
        span.attributes.get(key).is_some_and(|v| self.matches_value(v))
            || span.resource.attributes.get(key).is_some_and(|v| self.matches_value(v))
    }
}

/// Whether `value` is written as `text`, without allocating for the common types.
pub fn value_reads_as(value: &AnyValue, text: &str) -> bool {
    match value {
        AnyValue::Str(s) => s == text,
        AnyValue::Int(i) => text.parse::<i64>().is_ok_and(|t| t == *i),
        AnyValue::Bool(b) => text.parse::<bool>().is_ok_and(|t| t == *b),
        AnyValue::Double(d) => text.parse::<f64>().is_ok_and(|t| t == *d),
        other => other.to_string() == text,
    }
}

/// A trace at a glance, as a search result list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    pub trace_id: TraceId,
    /// The span without a parent, when the store has it.
    pub root: Option<RootSpan>,
    /// The earliest start of any span.
    pub start_unix_nano: u64,
    /// The latest end of any span.
    pub end_unix_nano: u64,
    pub span_count: u32,
    pub error_count: u32,
    /// Each service in the trace, by name.
    pub services: Vec<ServiceSpans>,
}

/// The service and operation of a trace's root span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSpan {
    pub service: Str,
    pub operation: Str,
}

/// How many spans (and failed spans) one service has in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpans {
    pub service: Str,
    pub span_count: u32,
    pub error_count: u32,
}

impl TraceSummary {
    /// The summary of the spans of one trace; `None` for no spans.
    pub fn of_spans<'a>(spans: impl IntoIterator<Item = &'a Span>) -> Option<Self> {
        let mut builder = SummaryBuilder::default();
        for span in spans {
            builder.add(
                span.trace_id,
                span.service_name(),
                &span.name,
                span.is_root(),
                span.start_time_unix_nano,
                span.end_time_unix_nano,
                span.is_error(),
            );
        }
        builder.finish()
    }

    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// Joins the summary of another part of the same trace (kept elsewhere in a store) into this.
    pub fn merge(&mut self, other: TraceSummary) {
        debug_assert_eq!(self.trace_id, other.trace_id);
        if self.root.is_none() {
            self.root = other.root;
        }
        self.start_unix_nano = self.start_unix_nano.min(other.start_unix_nano);
        self.end_unix_nano = self.end_unix_nano.max(other.end_unix_nano);
        self.span_count = self.span_count.saturating_add(other.span_count);
        self.error_count = self.error_count.saturating_add(other.error_count);
        let mut services: BTreeMap<Str, (u32, u32)> = BTreeMap::new();
        for s in self.services.drain(..).chain(other.services) {
            let entry = services.entry(s.service).or_default();
            entry.0 = entry.0.saturating_add(s.span_count);
            entry.1 = entry.1.saturating_add(s.error_count);
        }
        self.services = services
            .into_iter()
            .map(|(service, (span_count, error_count))| ServiceSpans {
                service,
                span_count,
                error_count,
            })
            .collect();
    }
}

/// Builds a [`TraceSummary`] span by span, from whole spans or from columns of a block.
#[derive(Debug, Default)]
pub struct SummaryBuilder {
    trace_id: Option<TraceId>,
    root: Option<RootSpan>,
    start_unix_nano: u64,
    end_unix_nano: u64,
    span_count: u32,
    error_count: u32,
    services: BTreeMap<Str, (u32, u32)>,
}

impl SummaryBuilder {
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        trace_id: TraceId,
        service: &str,
        operation: &str,
        is_root: bool,
        start_unix_nano: u64,
        end_unix_nano: u64,
        is_error: bool,
    ) {
        if self.trace_id.is_none() {
            self.trace_id = Some(trace_id);
            self.start_unix_nano = start_unix_nano;
            self.end_unix_nano = end_unix_nano;
        }
        if is_root && self.root.is_none() {
            self.root =
                Some(RootSpan { service: Str::new(service), operation: Str::new(operation) });
        }
        self.start_unix_nano = self.start_unix_nano.min(start_unix_nano);
        self.end_unix_nano = self.end_unix_nano.max(end_unix_nano);
        self.span_count = self.span_count.saturating_add(1);
        let errors = u32::from(is_error);
        self.error_count = self.error_count.saturating_add(errors);
        let entry = match self.services.get_mut(service) {
            Some(entry) => entry,
            None => self.services.entry(Str::new(service)).or_default(),
        };
        entry.0 = entry.0.saturating_add(1);
        entry.1 = entry.1.saturating_add(errors);
    }

    pub fn finish(self) -> Option<TraceSummary> {
        Some(TraceSummary {
            trace_id: self.trace_id?,
            root: self.root,
            start_unix_nano: self.start_unix_nano,
            end_unix_nano: self.end_unix_nano,
            span_count: self.span_count,
            error_count: self.error_count,
            services: self
                .services
                .into_iter()
                .map(|(service, (span_count, error_count))| ServiceSpans {
                    service,
                    span_count,
                    error_count,
                })
                .collect(),
        })
    }
}

/// Keeps the `limit` newest summaries, merging parts of the same trace.
#[derive(Debug)]
pub struct NewestTraces {
    limit: usize,
    by_trace: HashMap<TraceId, TraceSummary>,
}

impl NewestTraces {
    pub fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), by_trace: Default::default() }
    }

    pub fn add(&mut self, summary: TraceSummary) {
        merge_into(&mut self.by_trace, summary);
        if self.by_trace.len() > self.limit.saturating_mul(2).max(64) {
            self.truncate();
        }
    }

    /// Whether the result is complete for traces starting before `start_unix_nano`: it already
    /// holds `limit` traces that all start later.
    pub fn is_full_before(&self, start_unix_nano: u64) -> bool {
        self.by_trace.len() >= self.limit
            && self.oldest_kept_start().is_some_and(|oldest| oldest > start_unix_nano)
    }

    fn oldest_kept_start(&self) -> Option<u64> {
        if self.by_trace.len() < self.limit {
            return None;
        }
        let mut starts: Vec<u64> = self.by_trace.values().map(|s| s.start_unix_nano).collect();
        starts.sort_unstable_by(|a, b| b.cmp(a));
        starts.get(self.limit - 1).copied()
    }

    fn truncate(&mut self) {
        let mut all: Vec<TraceSummary> = self.by_trace.drain().map(|(_, s)| s).collect();
        sort_newest_first(&mut all);
        all.truncate(self.limit);
        self.by_trace = all.into_iter().map(|s| (s.trace_id, s)).collect();
    }

    /// The newest `limit` traces, newest first.
    pub fn finish(self) -> Vec<TraceSummary> {
        let mut all: Vec<TraceSummary> = self.by_trace.into_values().collect();
        sort_newest_first(&mut all);
        all.truncate(self.limit);
        all
    }
}

/// Adds a part of a trace to the summary kept for that trace, or keeps it as the first part.
pub fn merge_into<S: BuildHasher>(
    by_trace: &mut HashMap<TraceId, TraceSummary, S>,
    summary: TraceSummary,
) {
    match by_trace.entry(summary.trace_id) {
        Entry::Occupied(mut existing) => existing.get_mut().merge(summary),
        Entry::Vacant(slot) => {
            slot.insert(summary);
        }
    }
}

/// Newest start first; the trace id breaks ties, so equal starts keep a stable order.
pub fn sort_newest_first(summaries: &mut [TraceSummary]) {
    summaries.sort_by(|a, b| {
        b.start_unix_nano.cmp(&a.start_unix_nano).then_with(|| a.trace_id.cmp(&b.trace_id))
    });
}

/// An operation of a service: a span name with the kind it was seen with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation {
    pub name: String,
    pub kind: SpanKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_filters_parse_and_read_values_as_written() {
        let filter = AttributeFilter::parse(" http.response.status_code = 500").unwrap();
        assert_eq!(filter, AttributeFilter::new("http.response.status_code", "500"));
        assert!(filter.matches_value(&AnyValue::Int(500)));
        assert!(!filter.matches_value(&AnyValue::Int(200)));
        assert!(filter.matches_value(&AnyValue::from("500")));
        assert!(AttributeFilter::new("k", "true").matches_value(&AnyValue::Bool(true)));
        assert!(AttributeFilter::new("k", "2.5").matches_value(&AnyValue::Double(2.5)));
        assert!(AttributeFilter::parse("novalue").is_none());
        assert!(AttributeFilter::parse("=x").is_none());
        assert_eq!(AttributeFilter::parse("a=b=c").unwrap().value, "b=c");
    }

    #[test]
    fn summaries_of_parts_merge_into_the_summary_of_the_whole() {
        let trace = kiseki_testkit::Generator::new(4).trace(1_000_000);
        let whole = TraceSummary::of_spans(&trace).unwrap();
        let (a, b) = trace.split_at(trace.len() / 3);
        let mut merged = TraceSummary::of_spans(b).unwrap();
        merged.merge(TraceSummary::of_spans(a).unwrap());
        assert_eq!(merged, whole);
        assert_eq!(whole.span_count as usize, trace.len());
        assert!(whole.root.is_some());
    }

    #[test]
    fn newest_traces_keeps_the_newest_and_knows_when_it_is_full() {
        let mut generator = kiseki_testkit::Generator::new(9);
        let mut newest = NewestTraces::new(3);
        for i in 0..100u64 {
            let trace = generator.trace(1_000_000_000 * (i + 1));
            newest.add(TraceSummary::of_spans(&trace).unwrap());
        }
        assert!(newest.is_full_before(97_000_000_000));
        assert!(!newest.is_full_before(99_000_000_000));
        let result = newest.finish();
        let starts: Vec<u64> = result.iter().map(|s| s.start_unix_nano).collect();
        assert_eq!(starts, [100_000_000_000, 99_000_000_000, 98_000_000_000]);
    }
}
