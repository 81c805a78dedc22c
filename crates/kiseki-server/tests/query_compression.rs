//! Large JSON answers of the query port are gzip-compressed for clients that accept it.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;

use common::{TestServer, get, post};
use http::{StatusCode, header};
use kiseki_model::TraceId;

/// One trace of 400 generated spans, sent through OTLP/HTTP; its id in hex.
async fn send_big_trace(server: &TestServer) -> String {
    let trace_id = TraceId::new(0x00c0_ffee).unwrap();
    let mut spans = kiseki_testkit::Generator::new(5).spans(400, 1_700_000_000_000_000_000);
    for span in &mut spans {
        span.trace_id = trace_id;
    }
    let body = kiseki_codec::otlp::encode_traces_proto(&spans);
    let reply = server.send("otlp_http", post("/v1/traces", "application/x-protobuf", body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    format!("{:032x}", 0x00c0_ffee_u128)
}

#[tokio::test]
async fn a_large_answer_is_gzipped_only_for_clients_that_accept_gzip() {
    let server = TestServer::new();
    let trace_id = send_big_trace(&server).await;
    for path in [format!("/api/kiseki/v1/traces/{trace_id}"), format!("/api/traces/{trace_id}")] {
        let plain = server.send("query", get(&path)).await;
        assert_eq!(plain.status, StatusCode::OK);
        assert!(plain.headers.get(header::CONTENT_ENCODING).is_none());
        assert!(plain.body.len() > 16 * 1024, "{path}: the answer is large");

        let mut request = get(&path);
        request.headers_mut().insert(header::ACCEPT_ENCODING, "gzip, deflate".parse().unwrap());
        let compressed = server.send("query", request).await;
        assert_eq!(compressed.status, StatusCode::OK);
        assert_eq!(compressed.headers[header::CONTENT_ENCODING], "gzip", "{path}");
        assert!(compressed.body.len() * 4 < plain.body.len(), "{path}: it shrinks");
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&compressed.body[..]).read_to_end(&mut unzipped).unwrap();
        assert_eq!(unzipped, plain.body, "{path}: the same answer");
    }
}

#[tokio::test]
async fn zipkins_answers_on_the_collector_port_are_gzipped_too() {
    let server = TestServer::new();
    let trace_id = send_big_trace(&server).await;
    let mut request = get(&format!("/api/v2/trace/{trace_id}"));
    request.headers_mut().insert(header::ACCEPT_ENCODING, "gzip".parse().unwrap());
    let reply = server.send("zipkin", request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers[header::CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn a_small_answer_goes_out_as_it_is() {
    let server = TestServer::new();
    let mut request = get("/api/kiseki/v1/services");
    request.headers_mut().insert(header::ACCEPT_ENCODING, "gzip".parse().unwrap());
    let reply = server.send("query", request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(reply.json()["services"], serde_json::json!([]));
}
