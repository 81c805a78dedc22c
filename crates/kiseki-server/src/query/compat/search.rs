//! Trace search shared by the Jaeger and Zipkin query APIs.
//!
//! A store answers a [`TraceQuery`]: service, operation, `key=value` attributes, duration, errors
//! and a time window, all met by one span. Those APIs can also ask for things a store does not
//! index: a span kind, "not an error", a status message, an event name or attribute key alone
//! (Zipkin's bare `annotationQuery` words) and a remote service. Those become
//! [`SpanCondition`]s, checked on the traces the store returns: the search then reads at most
//! [`MAX_REFINE_CANDIDATES`] traces that meet the store's conditions, newest first, and keeps the
//! first `limit` in which one span meets those and every extra one.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use kiseki_model::{Span, SpanKind, StatusCode, TraceId, semconv};
use kiseki_store::{AttributeFilter, Store, TraceQuery};
use tokio::task::JoinSet;

use super::dependencies::remote_peer;
use crate::error::{ApiError, Reason};
use crate::query::QueryLimits;
use crate::query::duration::describe;
use crate::query::limits::bad_parameter;

/// The most traces a search with [`SpanCondition`]s reads to find its `limit` matches.
pub const MAX_REFINE_CANDIDATES: usize = 1_000;

/// How many traces are read from the store at the same time.
const FETCH_CONCURRENCY: usize = 16;

/// A condition on one span that a store's [`TraceQuery`] cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SpanCondition {
    Kind(SpanKind),
    Status(StatusCode),
    /// The status is not an error (`error=false`).
    NotError,
    /// The status message is exactly this (`otel.status_description=...`, Zipkin's `error=...`).
    StatusMessage(String),
    /// An event of this name, or an attribute of the span or its resource with this key: a bare
    /// word of Zipkin's `annotationQuery` (`retried`).
    EventOrKey(String),
    /// The remote service of the span, by [`remote_peer`], ignoring case (this name is
    /// lower-case): Zipkin's `remoteServiceName`.
    RemoteService(String),
}

impl SpanCondition {
    pub fn holds(&self, span: &Span) -> bool {
        match self {
            SpanCondition::Kind(kind) => span.kind == *kind,
            SpanCondition::Status(code) => span.status.code == *code,
            SpanCondition::NotError => !span.is_error(),
            SpanCondition::StatusMessage(message) => span.status.message == message.as_str(),
            SpanCondition::EventOrKey(word) => {
                span.events.iter().any(|event| event.name == word.as_str())
                    || span.attributes.get(word).is_some()
                    || span.resource.attributes.get(word).is_some()
            }
            SpanCondition::RemoteService(name) => {
                remote_peer(span).is_some_and(|peer| peer.to_lowercase() == *name)
            }
        }
    }
}

/// A search: what the store is asked, and what is checked on the spans it returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct SpanSearch {
    pub query: TraceQuery,
    pub conditions: Vec<SpanCondition>,
}

impl SpanSearch {
    /// Adds a `key=value` tag condition as Jaeger's and Zipkin's tag searches mean it. The tags
    /// those APIs write for fields of the span model are read as conditions on the fields:
    /// `error` (`true` or empty: failed; `false`: did not; other text: failed with that message),
    /// `span.kind`, `otel.status_code` and `otel.status_description`. Every other tag is an
    /// attribute of the span or of its resource. The error says what is wrong with the value.
    pub fn add_tag(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            semconv::ERROR => match value {
                "" | "true" => self.query.errors_only = true,
                "false" => self.conditions.push(SpanCondition::NotError),
                message => {
                    self.query.errors_only = true;
                    self.conditions.push(SpanCondition::StatusMessage(message.to_owned()));
                }
            },
            semconv::SPAN_KIND => {
                let kind = SpanKind::from_name(value).ok_or_else(|| {
                    format!(
                        "span.kind {value:?} is not one of server, client, producer, consumer, \
                         internal"
                    )
                })?;
                self.conditions.push(SpanCondition::Kind(kind));
            }
            semconv::OTEL_STATUS_CODE => {
                let code = [StatusCode::Unset, StatusCode::Ok, StatusCode::Error]
                    .into_iter()
                    .find(|code| code.as_str().eq_ignore_ascii_case(value))
                    .ok_or_else(|| {
                        format!("otel.status_code {value:?} is not one of OK, ERROR, UNSET")
                    })?;
                match code {
                    StatusCode::Error => self.query.errors_only = true,
                    other => self.conditions.push(SpanCondition::Status(other)),
                }
            }
            semconv::OTEL_STATUS_DESCRIPTION => {
                self.conditions.push(SpanCondition::StatusMessage(value.to_owned()));
            }
            _ => self.query.attributes.push(AttributeFilter::new(key, value)),
        }
        Ok(())
    }

    /// Whether one span meets every condition, the store's and the extra ones.
    pub fn matches(&self, span: &Span) -> bool {
        self.query.matches(span) && self.conditions.iter().all(|c| c.holds(span))
    }
}

/// The newest traces that match, newest first, each whole (every span the store has).
///
/// With [`SpanCondition`]s the store is asked for a few times `limit` candidates first, and for
/// four times as many while too few of them match and the store has more, up to
/// [`MAX_REFINE_CANDIDATES`]; candidates are read newest first until `limit` of them match.
pub(super) async fn find_traces(
    store: &Arc<dyn Store>,
    search: &SpanSearch,
) -> Result<Vec<Vec<Span>>, ApiError> {
    let limit = search.query.effective_limit();
    if search.conditions.is_empty() {
        let summaries = store.search(&search.query).await?;
        let ids: Vec<TraceId> = summaries.iter().map(|s| s.trace_id).collect();
        let traces = fetch_traces(store, &ids).await?;
        return Ok(traces.into_iter().filter(|spans| !spans.is_empty()).collect());
    }
    let mut query = search.query.clone();
    let most = MAX_REFINE_CANDIDATES.max(limit);
    let mut candidates = limit.saturating_mul(4).clamp(FETCH_CONCURRENCY, most);
    let mut checked: HashSet<TraceId> = HashSet::new();
    // (start of the trace, its spans), to keep newest first across rounds.
    let mut found: Vec<(u64, Vec<Span>)> = Vec::new();
    loop {
        query.limit = candidates;
        let summaries = store.search(&query).await?;
        let fresh: Vec<(TraceId, u64)> = summaries
            .iter()
            .filter(|s| checked.insert(s.trace_id))
            .map(|s| (s.trace_id, s.start_unix_nano))
            .collect();
        for batch in fresh.chunks(FETCH_CONCURRENCY) {
            let ids: Vec<TraceId> = batch.iter().map(|(id, _)| *id).collect();
            let traces = fetch_traces(store, &ids).await?;
            for ((_, start), spans) in batch.iter().zip(traces) {
                if spans.iter().any(|span| search.matches(span)) {
                    found.push((*start, spans));
                }
            }
            if found.len() >= limit {
                break;
            }
        }
        if found.len() >= limit || summaries.len() < candidates || candidates >= most {
            break;
        }
        candidates = candidates.saturating_mul(4).min(most);
    }
    found.sort_by_key(|(start, _)| std::cmp::Reverse(*start));
    found.truncate(limit);
    Ok(found.into_iter().map(|(_, spans)| spans).collect())
}

/// The spans of each trace, in the order of `ids`; an unknown trace has none. At most
/// [`FETCH_CONCURRENCY`] traces are read at once.
pub(super) async fn fetch_traces(
    store: &Arc<dyn Store>,
    ids: &[TraceId],
) -> Result<Vec<Vec<Span>>, ApiError> {
    let mut traces = vec![Vec::new(); ids.len()];
    for (batch_index, batch) in ids.chunks(FETCH_CONCURRENCY).enumerate() {
        let mut reads = JoinSet::new();
        for (i, &trace_id) in batch.iter().enumerate() {
            let store = Arc::clone(store);
            reads.spawn(async move { (i, store.trace(trace_id).await) });
        }
        while let Some(read) = reads.join_next().await {
            let (i, spans) = read.map_err(|error| {
                // A read only ends early by panicking, which a store must not do.
                tracing::error!(%error, "reading a trace failed unexpectedly");
                ApiError::new(Reason::Internal, "reading a trace failed")
            })?;
            traces[batch_index * FETCH_CONCURRENCY + i] = spans?;
        }
    }
    Ok(traces)
}

/// `limit` as a search gives it: absent means the default; it must be between 1 and the limit.
pub(super) fn parse_limit(
    limits: &QueryLimits,
    name: &str,
    text: Option<&str>,
) -> Result<usize, ApiError> {
    let Some(text) = text else { return Ok(limits.default_results) };
    let limit: i64 = text
        .trim()
        .parse()
        .map_err(|_| bad_parameter(name, format!("{text:?} is not a number")))?;
    if limit < 1 {
        return Err(bad_parameter(name, "must be at least 1"));
    }
    match usize::try_from(limit) {
        Ok(limit) if limit <= limits.max_results => Ok(limit),
        _ => Err(bad_parameter(name, format!("must be at most {}", limits.max_results))),
    }
}

/// Checks a search window against the limits: it must not end before it starts, nor reach back
/// further than [`QueryLimits::max_lookback`]. `name` is the parameter that set its length.
pub(super) fn check_window(
    limits: &QueryLimits,
    name: &str,
    start_unix_nano: u64,
    end_unix_nano: u64,
) -> Result<(), ApiError> {
    if start_unix_nano > end_unix_nano {
        return Err(bad_parameter(name, "the window starts after it ends"));
    }
    let length = Duration::from_nanos(end_unix_nano - start_unix_nano);
    if length > limits.max_lookback {
        return Err(bad_parameter(
            name,
            format!(
                "the window of {} is longer than the limit of {}",
                describe(length),
                describe(limits.max_lookback)
            ),
        ));
    }
    Ok(())
}

/// The start of a window of `lookback` ending at `end_unix_nano`, never before the epoch.
pub(super) fn window_start(end_unix_nano: u64, lookback: Duration) -> u64 {
    let lookback = u64::try_from(lookback.as_nanos()).unwrap_or(u64::MAX);
    end_unix_nano.saturating_sub(lookback)
}

/// Now, in Unix nanoseconds.
pub(super) fn now_unix_nano() -> u64 {
    let since_epoch =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX)
}

/// A value as Jaeger's and Zipkin's tag searches take it: text, or a JSON number or boolean
/// written as text.
pub(super) fn tag_value_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use kiseki_model::{Event, Resource, SpanId, Status};
    use kiseki_store::MemoryStore;

    use super::*;

    fn span(trace: u128, id: u64, start_ms: u64) -> Span {
        let mut span = Span::new(TraceId::new(trace).unwrap(), SpanId::new(id).unwrap());
        span.name = "op".into();
        span.resource = Arc::new(Resource::for_service("cart"));
        span.start_time_unix_nano = start_ms * 1_000_000;
        span.end_time_unix_nano = span.start_time_unix_nano + 1_000_000;
        span
    }

    #[test]
    fn tags_for_model_fields_become_conditions_on_those_fields() {
        let mut search = SpanSearch::default();
        search.add_tag("error", "true").unwrap();
        search.add_tag("span.kind", "client").unwrap();
        search.add_tag("http.method", "GET").unwrap();
        assert!(search.query.errors_only);
        assert_eq!(search.conditions, [SpanCondition::Kind(SpanKind::Client)]);
        assert_eq!(search.query.attributes, [AttributeFilter::new("http.method", "GET")]);

        let mut failed = span(1, 1, 1);
        failed.kind = SpanKind::Client;
        failed.status = Status::error("boom");
        failed.attributes.push("http.method", "GET");
        assert!(search.matches(&failed));
        failed.kind = SpanKind::Server;
        assert!(!search.matches(&failed));

        let mut not_error = SpanSearch::default();
        not_error.add_tag("error", "false").unwrap();
        assert!(!not_error.matches(&span(1, 1, 1).tap_error()));
        assert!(not_error.matches(&span(1, 1, 1)));

        let mut message = SpanSearch::default();
        message.add_tag("error", "boom").unwrap();
        assert!(message.matches(&span(1, 1, 1).tap_error()));

        let mut status = SpanSearch::default();
        status.add_tag("otel.status_code", "ok").unwrap();
        assert_eq!(status.conditions, [SpanCondition::Status(StatusCode::Ok)]);
        assert!(SpanSearch::default().add_tag("span.kind", "sideways").is_err());
        assert!(SpanSearch::default().add_tag("otel.status_code", "fine").is_err());
    }

    trait TapError {
        fn tap_error(self) -> Self;
    }

    impl TapError for Span {
        fn tap_error(mut self) -> Self {
            self.status = Status::error("boom");
            self
        }
    }

    #[test]
    fn a_bare_word_matches_an_event_name_or_an_attribute_key() {
        let condition = SpanCondition::EventOrKey("retried".into());
        let mut with_event = span(1, 1, 1);
        with_event.events.push(Event { name: "retried".into(), ..Event::default() });
        assert!(condition.holds(&with_event));
        let mut with_key = span(1, 1, 1);
        with_key.attributes.push("retried", true);
        assert!(condition.holds(&with_key));
        assert!(!condition.holds(&span(1, 1, 1)));
    }

    #[tokio::test]
    async fn extra_conditions_are_checked_on_the_newest_traces_first() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(10_000));
        let mut spans = Vec::new();
        for trace in 1..=50u128 {
            let mut root = span(trace, 1, trace as u64 * 10);
            root.kind = SpanKind::Server;
            let mut child = span(trace, 2, trace as u64 * 10 + 1);
            child.parent_span_id = SpanId::new(1);
            child.kind = if trace % 2 == 0 { SpanKind::Client } else { SpanKind::Internal };
            spans.extend([root, child]);
        }
        store.append(spans).await.unwrap();

        let mut search = SpanSearch::default();
        search.query.limit = 3;
        search.add_tag("span.kind", "client").unwrap();
        let found = find_traces(&store, &search).await.unwrap();
        let ids: Vec<u128> = found.iter().map(|t| t[0].trace_id.get()).collect();
        assert_eq!(ids, [50, 48, 46]);
        assert!(found.iter().all(|t| t.len() == 2), "whole traces");

        // Only the oldest trace has a producer span: the candidates grow until it is read.
        let mut producer = span(1, 3, 12);
        producer.kind = SpanKind::Producer;
        store.append(vec![producer]).await.unwrap();
        let mut rare = SpanSearch::default();
        rare.query.limit = 1;
        rare.add_tag("span.kind", "producer").unwrap();
        let found = find_traces(&store, &rare).await.unwrap();
        assert_eq!(found.iter().map(|t| t[0].trace_id.get()).collect::<Vec<_>>(), [1]);

        let plain = SpanSearch {
            query: TraceQuery { limit: 2, ..Default::default() },
            ..Default::default()
        };
        let found = find_traces(&store, &plain).await.unwrap();
        assert_eq!(found.iter().map(|t| t[0].trace_id.get()).collect::<Vec<_>>(), [50, 49]);
    }

    #[tokio::test]
    async fn fetched_traces_keep_the_order_asked_for() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new(10_000));
        let spans: Vec<Span> = (1..=40u128).map(|t| span(t, 1, t as u64)).collect();
        store.append(spans).await.unwrap();
        let ids: Vec<TraceId> =
            [7u128, 3, 99, 40, 1].iter().map(|&t| TraceId::new(t).unwrap()).collect();
        let traces = fetch_traces(&store, &ids).await.unwrap();
        let read: Vec<Option<u128>> =
            traces.iter().map(|t| t.first().map(|s| s.trace_id.get())).collect();
        assert_eq!(read, [Some(7), Some(3), None, Some(40), Some(1)]);
    }

    #[test]
    fn limits_and_windows_are_held_to_the_query_limits() {
        let limits = QueryLimits::default();
        assert_eq!(parse_limit(&limits, "limit", None).unwrap(), limits.default_results);
        assert_eq!(parse_limit(&limits, "limit", Some("7")).unwrap(), 7);
        for bad in ["0", "-1", "x", "1001"] {
            let error = parse_limit(&limits, "limit", Some(bad)).unwrap_err();
            assert!(error.message.contains("\"limit\""), "{bad}: {}", error.message);
        }
        let day = 86_400_000_000_000u64;
        assert!(check_window(&limits, "lookback", 0, 30 * day).is_ok());
        let error = check_window(&limits, "lookback", 0, 31 * day).unwrap_err();
        assert_eq!(
            error.message,
            "parameter \"lookback\": the window of 31d is longer than the limit of 30d"
        );
        assert!(check_window(&limits, "start", 2, 1).is_err());
        assert_eq!(window_start(5, Duration::from_secs(1)), 0);
    }
}
