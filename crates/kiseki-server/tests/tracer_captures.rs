//! Every request captured from a real tracer library (`testdata/tracers/<folder>`), replayed into
//! the listener of its recorded port with its recorded method, path, query and headers; then every
//! trace the tracer says it sent is read back through the query API and compared span by span,
//! and `/metrics` must account for every request, byte and span.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use common::{Capture, Reply, TestServer, captures, compare_trace, expected_traces};
use http::StatusCode;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use serde_json::Value;

/// One test per capture folder, so a failure names the tracer.
macro_rules! tracer_tests {
    ($($test:ident => $folder:literal,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                replay_and_check($folder).await;
            }
        )*

        const FOLDERS: &[&str] = &[$($folder),*];
    };
}

tracer_tests! {
    node_dd_trace => "node-dd-trace",
    node_dd_trace_native_events => "node-dd-trace-native-events",
    node_dd_trace_v05 => "node-dd-trace-v05",
    node_jaeger_client_http => "node-jaeger-client-http",
    node_jaeger_client_udp => "node-jaeger-client-udp",
    node_otel_jaeger_http => "node-otel-jaeger-http",
    node_otel_jaeger_udp => "node-otel-jaeger-udp",
    node_otel_otlp_grpc => "node-otel-otlp-grpc",
    node_otel_otlp_http_json => "node-otel-otlp-http-json",
    node_otel_otlp_http_proto => "node-otel-otlp-http-proto",
    node_otel_otlp_http_proto_gzip => "node-otel-otlp-http-proto-gzip",
    node_otel_zipkin => "node-otel-zipkin",
    node_zipkin_js_v1_json => "node-zipkin-js-v1-json",
    node_zipkin_js_v1_thrift => "node-zipkin-js-v1-thrift",
    node_zipkin_js_v2_json => "node-zipkin-js-v2-json",
    python_ddtrace_v04 => "python-ddtrace-v04",
    python_ddtrace_v04_native_events => "python-ddtrace-v04-native-events",
    python_ddtrace_v05 => "python-ddtrace-v05",
    python_jaeger_client => "python-jaeger-client",
    python_otel_jaeger_grpc => "python-otel-jaeger-grpc",
    python_otel_jaeger_thrift_agent => "python-otel-jaeger-thrift-agent",
    python_otel_jaeger_thrift_collector => "python-otel-jaeger-thrift-collector",
    python_otel_otlp_grpc => "python-otel-otlp-grpc",
    python_otel_otlp_grpc_gzip => "python-otel-otlp-grpc-gzip",
    python_otel_otlp_http => "python-otel-otlp-http",
    python_otel_otlp_http_gzip => "python-otel-otlp-http-gzip",
    python_otel_otlp_http_json => "python-otel-otlp-http-json",
    python_otel_zipkin_json_v1 => "python-otel-zipkin-json-v1",
    python_otel_zipkin_json_v2 => "python-otel-zipkin-json-v2",
    python_otel_zipkin_proto => "python-otel-zipkin-proto",
    python_pyzipkin_v1_json => "python-pyzipkin-v1-json",
    python_pyzipkin_v1_thrift => "python-pyzipkin-v1-thrift",
    python_pyzipkin_v2_json => "python-pyzipkin-v2-json",
    python_pyzipkin_v2_proto => "python-pyzipkin-v2-proto",
    python_stitched => "python-stitched",
}

/// A new capture folder must get its own test above.
#[test]
fn every_capture_folder_has_a_test() {
    let on_disk: BTreeSet<String> = fs::read_dir(common::TRACERS)
        .expect("testdata/tracers")
        .map(|entry| entry.expect("directory entry"))
        .filter(|entry| entry.path().join("expected.json").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let tested: BTreeSet<String> = FOLDERS.iter().map(|f| f.to_string()).collect();
    assert_eq!(on_disk, tested);
}

async fn replay_and_check(folder: &str) {
    let server = TestServer::new();
    let expected = expected_traces(folder);
    let services: BTreeSet<&str> =
        expected.iter().flat_map(|t| &t.spans).map(|s| s.service.as_str()).collect();
    let captures = captures(folder);
    assert!(captures.iter().any(Capture::carries_spans), "{folder} has no span request");

    // Per receiver: span requests sent and their body bytes as the receiver counts them.
    let mut sent: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for capture in &captures {
        let listener = capture.listener();
        let what = format!("{folder}/{}", capture.name());
        if capture.carries_spans() {
            let entry = sent.entry(listener).or_default();
            entry.0 += 1;
            entry.1 += capture.body.len() as u64;
        }
        match capture.transport.as_str() {
            "udp" => server.datagram(listener, &capture.body).await,
            "grpc" => {
                // gRPC takes the message off the wire decompressed; the gzip emitter's message
                // is compressed again here so `grpc-encoding: gzip` is exercised.
                let gzip = folder.ends_with("-gzip");
                let reply = server.grpc(listener, capture.grpc_request(gzip)).await;
                assert_eq!(reply.http_status, StatusCode::OK, "{what}");
                assert_eq!(reply.code, Some(0), "{what}: grpc-message {:?}", reply.message);
                if listener == "otlp_grpc" {
                    let response = ExportTraceServiceResponse::decode(reply.message_bytes)
                        .unwrap_or_else(|e| panic!("{what}: response: {e}"));
                    let rejected = response.partial_success.map_or(0, |p| p.rejected_spans);
                    assert_eq!(rejected, 0, "{what}: spans rejected");
                }
            }
            _ => {
                let reply = server.send(listener, capture.http_request()).await;
                check_http_reply(capture, &reply, &services, &captures, &what);
            }
        }
    }

    let fold_case = folder.contains("zipkin-js");
    let mut problems = Vec::new();
    let mut read_back = 0;
    for trace in &expected {
        match server.trace(&trace.trace_id).await {
            None => problems.push(format!("trace {} not found", trace.trace_id)),
            Some(spans) => {
                read_back += spans.len() as u64;
                for problem in compare_trace(trace, &spans, fold_case) {
                    problems.push(format!("trace {}: {problem}", trace.trace_id));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{folder}:\n  {}", problems.join("\n  "));

    let metrics = server.metrics().await;
    for (receiver, (requests, bytes)) in &sent {
        let labels = [("receiver", *receiver)];
        assert_eq!(
            metrics.sum("kiseki_receiver_requests_total", &labels),
            *requests,
            "{folder}: requests counted for {receiver}"
        );
        assert_eq!(
            metrics.sum("kiseki_receiver_bytes_total", &labels),
            *bytes,
            "{folder}: bytes counted for {receiver}"
        );
        assert!(
            metrics.sum("kiseki_receiver_spans_total", &labels) > 0,
            "{folder}: no spans counted for {receiver}:\n{}",
            metrics.0
        );
    }
    assert_eq!(
        metrics.sum("kiseki_receiver_spans_total", &[]),
        read_back,
        "{folder}: every span counted is read back"
    );
    assert_eq!(metrics.sum("kiseki_receiver_spans_rejected_total", &[]), 0, "{folder}");
    assert!(metrics.rejections().is_empty(), "{folder}: {:?}", metrics.rejections());
}

/// The answer each tracer expects from the receiver it sent to.
fn check_http_reply(
    capture: &Capture,
    reply: &Reply,
    services: &BTreeSet<&str>,
    all: &[Capture],
    what: &str,
) {
    if !capture.carries_spans() {
        assert!(reply.status.is_success(), "{what}: {} {}", reply.status, reply.text());
        if capture.path == "/info" {
            // The tracer must find the endpoint it then used among those listed.
            let info = reply.json();
            let endpoints: Vec<&str> = info["endpoints"]
                .as_array()
                .map(|list| list.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for used in all.iter().filter(|c| c.carries_spans() && c.listener() == "datadog") {
                assert!(endpoints.contains(&used.path.as_str()), "{what}: {endpoints:?}");
            }
        }
        return;
    }
    let body = reply.text();
    match capture.listener() {
        "otlp_http" => {
            assert_eq!(reply.status, StatusCode::OK, "{what}: {body}");
            let sent_type = capture.header("content-type").unwrap_or_default();
            assert_eq!(
                reply.content_type(),
                sent_type,
                "{what}: answered in the request's encoding"
            );
            let rejected = if sent_type == "application/json" {
                let json = reply.json();
                let rejected = &json["partialSuccess"]["rejectedSpans"];
                rejected.as_i64().or_else(|| rejected.as_str()?.parse().ok()).unwrap_or(0)
            } else {
                ExportTraceServiceResponse::decode(reply.body.clone())
                    .unwrap_or_else(|e| panic!("{what}: response: {e}"))
                    .partial_success
                    .map_or(0, |p| p.rejected_spans)
            };
            assert_eq!(rejected, 0, "{what}: spans rejected: {body}");
        }
        "zipkin" | "jaeger_http" => {
            assert_eq!(reply.status, StatusCode::ACCEPTED, "{what}: {body}");
            assert!(reply.body.is_empty(), "{what}: {body}");
        }
        "datadog" if capture.path == "/v0.3/traces" => {
            assert_eq!(reply.status, StatusCode::OK, "{what}: {body}");
        }
        "datadog" => {
            assert_eq!(reply.status, StatusCode::OK, "{what}: {body}");
            let json = reply.json();
            let rates = json["rate_by_service"]
                .as_object()
                .unwrap_or_else(|| panic!("{what}: no rate_by_service: {body}"));
            assert!(rates.contains_key("service:,env:"), "{what}: {body}");
            assert!(rates.len() > 1, "{what}: no rate for the tracer's services: {body}");
            for (key, rate) in rates {
                assert_eq!(rate.as_f64(), Some(1.0), "{what}: {key}");
                let service = key
                    .strip_prefix("service:")
                    .and_then(|rest| rest.split_once(",env:"))
                    .map(|(service, _)| service)
                    .unwrap_or_else(|| panic!("{what}: rate key {key:?}"));
                assert!(
                    service.is_empty() || services.contains(service),
                    "{what}: rate for {service:?}, which the tracer did not send"
                );
            }
        }
        other => panic!("{what}: unexpected listener {other}"),
    }
}

/// The comparison the folder tests rely on reports every kind of difference, and accepts a
/// Zipkin shared span read back as two spans.
#[test]
fn the_comparison_notices_what_differs() {
    use common::{ExpectedSpan, ExpectedTrace, ReadSpan};

    let want_span = |id: &str, parent: Option<&str>, name: &str, service: &str| ExpectedSpan {
        span_id: id.into(),
        parent_span_id: parent.map(Into::into),
        name: name.into(),
        service: service.into(),
        error: false,
    };
    let got_span = |id: &str, parent: Option<&str>, name: &str, service: &str| ReadSpan {
        trace_id: "00000000000000000000000000000abc".into(),
        span_id: id.into(),
        parent_span_id: parent.map(Into::into),
        name: name.into(),
        service: service.into(),
        error: false,
    };
    // A client span `b` whose server half (same id, other service) has a child `c`.
    let want = ExpectedTrace {
        trace_id: "abc".into(),
        spans: vec![
            want_span("a", None, "root", "front"),
            want_span("b", Some("a"), "call", "front"),
            want_span("b", Some("a"), "call", "back"),
            want_span("c", Some("b"), "work", "back"),
        ],
    };
    let good = vec![
        got_span("a", None, "root", "front"),
        got_span("b", Some("a"), "call", "front"),
        got_span("s", Some("b"), "call", "back"),
        got_span("c", Some("s"), "work", "back"),
    ];
    assert_eq!(compare_trace(&want, &good, false), Vec::<String>::new());

    let problems = |change: &dyn Fn(&mut Vec<ReadSpan>)| {
        let mut got = good.clone();
        change(&mut got);
        compare_trace(&want, &got, false)
    };
    let has = |problems: Vec<String>, word: &str| {
        assert!(problems.iter().any(|p| p.contains(word)), "{word}: {problems:?}");
    };
    has(problems(&|got| got[3].parent_span_id = Some("a".into())), "parent is");
    has(problems(&|got| got[0].service = "other".into()), "service is");
    has(problems(&|got| got[1].error = true), "error is");
    has(problems(&|got| got[0].name = "ROOT".into()), "not found");
    has(problems(&|got| got[0].trace_id = "def".into()), "trace id");
    has(problems(&|got| drop(got.remove(2))), "server half");
    has(problems(&|got| got.push(got_span("x", Some("a"), "extra", "front"))), "read back 5");
    // Case folding is only on request.
    let mut lower = good.clone();
    lower[0].name = "ROOT".into();
    assert_eq!(compare_trace(&want, &lower, true), Vec::<String>::new());
}
