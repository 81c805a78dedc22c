//! Tests every [`Store`](crate::Store) must pass, run against each backend by
//! [`conformance_tests!`](crate::conformance_tests).

use std::collections::HashSet;
use std::sync::Arc;

use kiseki_model::{Span, TraceId};

use crate::Store;

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

/// Generates one `#[tokio::test]` per conformance test for a store made by `$make`.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        mod conformance {
            use super::*;

            fn store() -> std::sync::Arc<dyn $crate::Store> {
                std::sync::Arc::new($make)
            }

            #[tokio::test]
            async fn appended_spans_are_read_back() {
                $crate::conformance::appended_spans_are_read_back(store()).await;
            }

            #[tokio::test]
            async fn unknown_trace_is_empty() {
                $crate::conformance::unknown_trace_is_empty(store()).await;
            }

            #[tokio::test]
            async fn batches_of_one_trace_are_joined() {
                $crate::conformance::batches_of_one_trace_are_joined(store()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_appends_keep_every_trace() {
                $crate::conformance::concurrent_appends_keep_every_trace(store()).await;
            }
        }
    };
}
