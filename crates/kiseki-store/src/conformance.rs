//! Tests every [`Store`](crate::Store) must pass, run against each backend by
//! [`conformance_tests!`](crate::conformance_tests).

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use kiseki_model::{Span, TraceId};

use crate::Store;
use crate::query::{AttributeFilter, TraceQuery, TraceSummary, sort_newest_first};

const START: u64 = 1_700_000_000_000_000_000;

fn span_ids(spans: &[Span]) -> HashSet<(TraceId, u64)> {
    spans.iter().map(|s| (s.trace_id, s.span_id.get())).collect()
}

/// Every appended span comes back, whole, under its trace id.
pub async fn appended_spans_are_read_back(store: Arc<dyn Store>) {
    let trace = kiseki_testkit::Generator::new(11).trace(START);
    let trace_id = trace[0].trace_id;
    store.append(trace.clone()).await.expect("append");
    let mut read = store.trace(trace_id).await.expect("read");
    read.sort_by_key(|s| s.span_id);
    let mut expected = trace;
    expected.sort_by_key(|s| s.span_id);
    assert_eq!(read, expected);
}

/// A trace that was never appended reads as empty, not as an error.
pub async fn unknown_trace_is_empty(store: Arc<dyn Store>) {
    let unknown = TraceId::new(0xdead_beef).expect("non-zero");
    assert!(store.trace(unknown).await.expect("read").is_empty());
}

/// Spans of one trace that arrive in separate batches (from different services) are joined.
pub async fn batches_of_one_trace_are_joined(store: Arc<dyn Store>) {
    let trace = kiseki_testkit::Generator::new(12).trace(START);
    let trace_id = trace[0].trace_id;
    let (first, second) = trace.split_at(trace.len() / 2);
    store.append(second.to_vec()).await.expect("append");
    store.append(first.to_vec()).await.expect("append");
    let read = store.trace(trace_id).await.expect("read");
    assert_eq!(span_ids(&read), span_ids(&trace));
}

/// Concurrent appends lose nothing and mix no traces.
pub async fn concurrent_appends_keep_every_trace(store: Arc<dyn Store>) {
    let mut generator = kiseki_testkit::Generator::new(13);
    let traces: Vec<Vec<Span>> = (0..64).map(|i| generator.trace(START + i * 1_000_000)).collect();
    let tasks: Vec<_> = traces
        .iter()
        .cloned()
        .map(|trace| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.append(trace).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("append");
    }
    for trace in &traces {
        let read = store.trace(trace[0].trace_id).await.expect("read");
        assert_eq!(span_ids(&read), span_ids(trace));
    }
}

/// Seeded shop traffic: `count` traces, one every 10 ms from [`START`].
fn shop_traces(seed: u64, count: u64) -> Vec<Vec<Span>> {
    let mut generator = kiseki_testkit::Generator::new(seed);
    (0..count).map(|i| generator.trace(START + i * 10_000_000)).collect()
}

async fn append_all(store: &Arc<dyn Store>, traces: &[Vec<Span>]) {
    for batch in traces.chunks(16) {
        store.append(batch.concat()).await.expect("append");
    }
}

/// What a search must return, worked out span by span over the traces appended: the oracle
/// every store (and every block) is held to.
pub fn expected_search(traces: &[Vec<Span>], query: &TraceQuery) -> Vec<TraceSummary> {
    let mut found: Vec<TraceSummary> = traces
        .iter()
        .filter(|trace| trace.iter().any(|span| query.matches(span)))
        .filter_map(TraceSummary::of_spans)
        .collect();
    sort_newest_first(&mut found);
    found.truncate(query.effective_limit());
    found
}

/// Searches by every kind of condition return exactly the traces that match, summarised whole,
/// newest first, at most `limit`.
pub async fn search_returns_matching_traces_newest_first(store: Arc<dyn Store>) {
    let traces = shop_traces(21, 400);
    append_all(&store, &traces).await;
    let all: Vec<&Span> = traces.iter().flatten().collect();
    let failing = all.iter().find(|s| s.is_error() && !s.is_root()).expect("an error span");
    let durations: Vec<u64> = all.iter().map(|s| s.duration_nanos()).collect();
    let slow = *durations.iter().max().expect("spans") / 4;
    let middle = START + 200 * 10_000_000;
    let queries = [
        ("everything", TraceQuery { limit: 1_000, ..TraceQuery::default() }),
        (
            "service",
            TraceQuery { service: Some(failing.service_name().into()), ..Default::default() },
        ),
        (
            "service and operation",
            TraceQuery {
                service: Some(failing.service_name().into()),
                operation: Some(failing.name.to_string()),
                limit: 50,
                ..Default::default()
            },
        ),
        (
            "integer attribute",
            TraceQuery {
                attributes: vec![AttributeFilter::new("http.response.status_code", "500")],
                limit: 1_000,
                ..Default::default()
            },
        ),
        (
            "two attributes, one from the resource",
            TraceQuery {
                attributes: vec![
                    AttributeFilter::new("http.request.method", "GET"),
                    AttributeFilter::new("service.name", "frontend"),
                ],
                limit: 1_000,
                ..Default::default()
            },
        ),
        (
            "no such value",
            TraceQuery {
                attributes: vec![AttributeFilter::new("http.request.method", "BREW")],
                ..Default::default()
            },
        ),
        ("errors only", TraceQuery { errors_only: true, limit: 1_000, ..Default::default() }),
        ("slow", TraceQuery { min_duration_nanos: Some(slow), limit: 1_000, ..Default::default() }),
        (
            "fast, in a time range",
            TraceQuery {
                max_duration_nanos: Some(1_000_000),
                start_unix_nano: START + 100 * 10_000_000,
                end_unix_nano: middle,
                limit: 1_000,
                ..Default::default()
            },
        ),
        ("limit 7", TraceQuery { limit: 7, ..Default::default() }),
    ];
    for (what, query) in queries {
        let expected = expected_search(&traces, &query);
        let found = store.search(&query).await.expect("search");
        assert_eq!(found, expected, "search by {what}");
    }
    let everything = expected_search(&traces, &TraceQuery { limit: 1_000, ..Default::default() });
    assert_eq!(everything.len(), traces.len());
    let errors = expected_search(&traces, &TraceQuery { errors_only: true, ..Default::default() });
    assert!(!errors.is_empty() && errors.iter().all(|s| s.error_count > 0));
}

/// A trace appended in parts, far apart, is still summarised whole.
pub async fn search_summarises_traces_appended_in_parts(store: Arc<dyn Store>) {
    let traces = shop_traces(22, 50);
    let (first, second): (Vec<Vec<Span>>, Vec<Vec<Span>>) = traces
        .iter()
        .map(|trace| {
            let (a, b) = trace.split_at(trace.len() / 2);
            (a.to_vec(), b.to_vec())
        })
        .unzip();
    append_all(&store, &second).await;
    append_all(&store, &shop_traces(23, 200)).await;
    append_all(&store, &first).await;
    for trace in &traces {
        let root = trace.iter().find(|s| s.is_root()).expect("root");
        let by_time = TraceQuery {
            service: Some(root.service_name().into()),
            operation: Some(root.name.to_string()),
            start_unix_nano: root.start_time_unix_nano,
            end_unix_nano: root.start_time_unix_nano,
            limit: 1_000,
            ..TraceQuery::default()
        };
        let found = store.search(&by_time).await.expect("search");
        let summary = found.iter().find(|s| s.trace_id == trace[0].trace_id).expect("found");
        assert_eq!(Some(summary), TraceSummary::of_spans(trace).as_ref());
    }
}

/// Services, their operations and attribute names are listed for pickers and completion.
pub async fn services_operations_and_attributes_are_listed(store: Arc<dyn Store>) {
    let traces = shop_traces(24, 300);
    append_all(&store, &traces).await;
    let all: Vec<&Span> = traces.iter().flatten().collect();
    let services: BTreeSet<String> = all.iter().map(|s| s.service_name().to_string()).collect();
    assert_eq!(store.services().await.expect("services"), Vec::from_iter(services.clone()));
    for service in &services {
        let expected: BTreeSet<(String, kiseki_model::SpanKind)> = all
            .iter()
            .filter(|s| s.service_name() == service)
            .map(|s| (s.name.to_string(), s.kind))
            .collect();
        let listed = store.operations(service).await.expect("operations");
        let listed: BTreeSet<_> = listed.into_iter().map(|o| (o.name, o.kind)).collect();
        assert_eq!(listed, expected, "operations of {service}");
    }
    assert!(store.operations("no-such-service").await.expect("operations").is_empty());
    let keys = store.attribute_keys().await.expect("keys");
    for key in ["http.route", "db.system", "service.version"] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
    let methods = store.attribute_values("http.request.method", 100).await.expect("values");
    assert!(methods.iter().any(|v| v == "GET") && methods.len() < 10, "{methods:?}");
    let codes = store.attribute_values("http.response.status_code", 100).await.expect("values");
    assert!(codes.iter().any(|v| v == "500"), "{codes:?}");
    assert_eq!(store.attribute_values("http.request.method", 1).await.expect("values").len(), 1);
    assert!(store.attribute_values("no.such.key", 10).await.expect("values").is_empty());
}

/// After `delete_before`, older spans are gone from every read and newer ones stay.
pub async fn deleted_spans_are_gone_and_newer_ones_stay(store: Arc<dyn Store>) {
    let traces = shop_traces(25, 100);
    append_all(&store, &traces).await;
    let cutoff = START + 50 * 10_000_000;
    store.delete_before(cutoff).await.expect("delete");
    for trace in &traces {
        let read = store.trace(trace[0].trace_id).await.expect("read");
        let kept: Vec<&Span> = trace.iter().filter(|s| s.start_time_unix_nano >= cutoff).collect();
        assert!(read.iter().all(|s| s.start_time_unix_nano >= cutoff));
        if trace.iter().all(|s| s.start_time_unix_nano >= cutoff + 1_000_000_000) {
            assert_eq!(read.len(), kept.len());
        }
    }
    let found =
        store.search(&TraceQuery { limit: 1_000, ..Default::default() }).await.expect("search");
    assert!(found.iter().all(|s| s.start_unix_nano >= cutoff));
    assert!(found.len() >= 45, "{} traces left", found.len());
}

/// Generates one `#[tokio::test]` per conformance test for a store made by `$make`, an
/// expression that may `.await`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        mod conformance {
            use super::*;

            async fn store() -> std::sync::Arc<dyn $crate::Store> {
                std::sync::Arc::new($make)
            }

            #[tokio::test]
            async fn appended_spans_are_read_back() {
                $crate::conformance::appended_spans_are_read_back(store().await).await;
            }

            #[tokio::test]
            async fn unknown_trace_is_empty() {
                $crate::conformance::unknown_trace_is_empty(store().await).await;
            }

            #[tokio::test]
            async fn batches_of_one_trace_are_joined() {
                $crate::conformance::batches_of_one_trace_are_joined(store().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_appends_keep_every_trace() {
                $crate::conformance::concurrent_appends_keep_every_trace(store().await).await;
            }

            #[tokio::test]
            async fn search_returns_matching_traces_newest_first() {
                $crate::conformance::search_returns_matching_traces_newest_first(store().await)
                    .await;
            }

            #[tokio::test]
            async fn search_summarises_traces_appended_in_parts() {
                $crate::conformance::search_summarises_traces_appended_in_parts(store().await)
                    .await;
            }

            #[tokio::test]
            async fn services_operations_and_attributes_are_listed() {
                $crate::conformance::services_operations_and_attributes_are_listed(store().await)
                    .await;
            }

            #[tokio::test]
            async fn deleted_spans_are_gone_and_newer_ones_stay() {
                $crate::conformance::deleted_spans_are_gone_and_newer_ones_stay(store().await)
                    .await;
            }
        }
    };
}
