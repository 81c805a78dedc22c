//! One trace over three processes and three wire formats (`testdata/tracers/python-stitched`):
//! `frontend` (OpenTelemetry, B3 propagation, OTLP/HTTP) calls `legacy-cart` (py_zipkin, Zipkin
//! v1 JSON), which calls `payments` (ddtrace, Datadog v0.5, with a `payments-db` span). Whatever
//! order the three receivers see their parts in, the trace must read back as one tree.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{ReadSpan, TestServer, captures, compare_trace, expected_traces, same_trace_id};

const FOLDER: &str = "python-stitched";

#[tokio::test]
async fn the_three_formats_join_into_one_tree() {
    let spans = replay(false).await;
    check_tree(&spans);
}

#[tokio::test]
async fn arrival_order_does_not_matter() {
    let in_order = replay(false).await;
    let reversed = replay(true).await;
    check_tree(&reversed);
    let key = |spans: &[ReadSpan]| {
        let mut spans = spans.to_vec();
        spans.sort_by(|a, b| a.span_id.cmp(&b.span_id));
        spans
    };
    assert_eq!(key(&in_order), key(&reversed));
}

/// Replays every capture of the folder (in capture order or reversed) and reads the trace back.
async fn replay(reversed: bool) -> Vec<ReadSpan> {
    let server = TestServer::new();
    let mut captures = captures(FOLDER);
    if reversed {
        captures.reverse();
    }
    let mut listeners = BTreeSet::new();
    for capture in &captures {
        let reply = server.send(capture.listener(), capture.http_request()).await;
        assert!(reply.status.is_success(), "{}: {} {}", capture.name(), reply.status, reply.text());
        if capture.carries_spans() {
            listeners.insert(capture.listener());
        }
    }
    assert_eq!(listeners, BTreeSet::from(["datadog", "otlp_http", "zipkin"]));

    let expected = expected_traces(FOLDER);
    assert_eq!(expected.len(), 1, "the emitter reports one trace");
    let trace = &expected[0];
    let spans = server.trace(&trace.trace_id).await.expect("the stitched trace is stored");
    let problems = compare_trace(trace, &spans, false);
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Every span the receivers took in belongs to this one trace.
    let metrics = server.metrics().await;
    assert_eq!(metrics.sum("kiseki_receiver_spans_total", &[]), spans.len() as u64);
    for listener in &listeners {
        assert_eq!(
            metrics.sum("kiseki_receiver_spans_total", &[("receiver", listener)]),
            2,
            "each service sent two spans, through {listener}"
        );
    }
    spans
}

fn check_tree(spans: &[ReadSpan]) {
    let expected = &expected_traces(FOLDER)[0];
    assert_eq!(spans.len(), 6);
    for span in spans {
        assert!(
            same_trace_id(&span.trace_id, &expected.trace_id),
            "{} has trace id {}; ddtrace's high half must come from _dd.p.tid",
            span.name,
            span.trace_id
        );
    }

    let by_id: BTreeMap<&str, &ReadSpan> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    assert_eq!(by_id.len(), spans.len(), "span ids are unique");
    let roots: Vec<&ReadSpan> = spans.iter().filter(|s| s.parent_span_id.is_none()).collect();
    assert_eq!(roots.len(), 1, "exactly one root: {roots:?}");
    assert_eq!((roots[0].service.as_str(), roots[0].name.as_str()), ("frontend", "GET /checkout"));
    for span in spans {
        if let Some(parent) = &span.parent_span_id {
            assert!(
                by_id.contains_key(parent.as_str()),
                "{}: parent {parent} is missing",
                span.name
            );
        }
    }

    let services: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
    assert_eq!(services, BTreeSet::from(["frontend", "legacy-cart", "payments", "payments-db"]));

    // From the database span up to the root, the services change in call order.
    let leaf = spans.iter().find(|s| s.service == "payments-db").expect("the database span");
    let mut chain = vec![leaf.service.as_str()];
    let mut current = leaf;
    for _ in 0..spans.len() {
        let Some(parent) = &current.parent_span_id else { break };
        current = by_id[parent.as_str()];
        if chain.last() != Some(&current.service.as_str()) {
            chain.push(current.service.as_str());
        }
    }
    assert!(
        current.parent_span_id.is_none(),
        "the walk up from the database span ends at the root"
    );
    assert_eq!(chain, ["payments-db", "payments", "legacy-cart", "frontend"]);

    // Each service's entry span is the child of the previous service's client span.
    let entry = |service: &str| {
        spans
            .iter()
            .find(|s| {
                s.service == service
                    && s.parent_span_id.as_deref().is_some_and(|p| by_id[p].service != service)
            })
            .unwrap_or_else(|| panic!("no entry span of {service}"))
    };
    let cart = entry("legacy-cart");
    assert_eq!(cart.name, "GET /cart");
    let caller = by_id[cart.parent_span_id.as_deref().unwrap_or_default()];
    assert_eq!((caller.service.as_str(), caller.name.as_str()), ("frontend", "GET"));
    let payments = entry("payments");
    assert_eq!(payments.name, "payments.charge");
    let caller = by_id[payments.parent_span_id.as_deref().unwrap_or_default()];
    assert_eq!((caller.service.as_str(), caller.name.as_str()), ("legacy-cart", "POST /pay"));
    assert!(spans.iter().all(|s| !s.error), "nothing failed in this trace");
}
