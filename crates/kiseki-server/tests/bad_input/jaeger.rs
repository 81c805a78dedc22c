//! Jaeger Thrift (HTTP, UDP) and protobuf (gRPC): hostile values.

use super::*;

#[tokio::test]
async fn jaeger_refuses_hostile_values_naming_them() {
    let mut abuse = Abuse::new();
    let limit = MAX_ATTRIBUTES.to_string();
    let plain = vec![model_span(SPAN, MARKED_NAME, 0)];
    let binary = jaeger::encode_thrift_batch(&plain, ThriftProtocol::Binary).remove(0);
    let compact = jaeger::encode_thrift_batch(&plain, ThriftProtocol::Compact).remove(0);
    abuse
        .refuse_all(vec![
            hostile(
                "binary: zero span id",
                JAEGER_BINARY,
                zero_span_id(&binary),
                MALFORMED,
                &["span id is zero"],
            ),
            hostile(
                "binary: zero trace id",
                JAEGER_BINARY,
                zero_trace_id(&binary),
                MALFORMED,
                &["trace id is zero"],
            ),
            hostile(
                "binary: invalid UTF-8",
                JAEGER_BINARY,
                invalid_utf8(&binary),
                MALFORMED,
                &["UTF-8"],
            ),
            hostile(
                "compact: invalid UTF-8",
                JAEGER_COMPACT,
                invalid_utf8(&compact),
                MALFORMED,
                &["UTF-8"],
            ),
        ])
        .await;

    // The same over gRPC.
    let proto = jaeger::encode_proto_post_spans(&plain);
    let grpc_cases = [
        ("grpc: zero span id", zero_span_id(&proto), "span id is zero"),
        ("grpc: zero trace id", zero_trace_id(&proto), "trace id is zero"),
        ("grpc: invalid UTF-8", invalid_utf8(&proto), "UTF-8"),
    ];
    for (what, body, word) in grpc_cases {
        let request = grpc_request(JAEGER_POST_SPANS, &body, false);
        abuse
            .refused_grpc(what, "jaeger_grpc", request, INVALID_ARGUMENT, MALFORMED, &[word])
            .await;
    }

    // Too many tags: refused with a message naming the limit on every transport. (How they
    // are counted is pinned by `jaeger_limit_refusals_are_counted_as_limit_exceeded`.)
    for (what, listener, request) in wide_jaeger_requests() {
        let before = abuse.server.metrics().await.rejections();
        if listener == "jaeger_grpc" {
            let reply = abuse.server.grpc(listener, request).await;
            assert_eq!(reply.code, Some(INVALID_ARGUMENT), "{what}: {}", reply.message);
            assert_names(what, &reply.message, &["attributes", &limit]);
        } else {
            let reply = abuse.send(listener, request).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}");
            assert_names(what, &error_message(&reply, what), &["attributes", &limit]);
        }
        abuse.counted_since(what, listener, &before).await;
    }
    for (what, listener, datagram) in wide_jaeger_datagrams() {
        let before = abuse.server.metrics().await.rejections();
        abuse.dropped_uncounted(listener, &datagram).await;
        abuse.counted_since(what, listener, &before).await;
    }
    abuse.assert_still_serves().await;
}

fn wide_span() -> Vec<kiseki_model::Span> {
    vec![model_span(SPAN, "wide", MAX_ATTRIBUTES + 1)]
}

/// One span with more tags than the limit, as Jaeger's HTTP and gRPC collectors take it.
fn wide_jaeger_requests() -> Vec<(&'static str, &'static str, Request<axum::body::Body>)> {
    let wide = wide_span();
    let batch = |protocol| jaeger::encode_thrift_batch(&wide, protocol).remove(0);
    vec![
        (
            "http binary: too many tags",
            "jaeger_http",
            post("/api/traces", "application/x-thrift", batch(ThriftProtocol::Binary)),
        ),
        (
            "http compact: too many tags",
            "jaeger_http",
            post(
                "/api/traces",
                "application/vnd.apache.thrift.compact",
                batch(ThriftProtocol::Compact),
            ),
        ),
        (
            "grpc: too many tags",
            "jaeger_grpc",
            grpc_request(JAEGER_POST_SPANS, &jaeger::encode_proto_post_spans(&wide), false),
        ),
    ]
}

/// The same as agent datagrams.
fn wide_jaeger_datagrams() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let wide = wide_span();
    vec![
        (
            "udp compact: too many tags",
            "jaeger_compact",
            jaeger::encode_udp_emit_batch(&wide, true).remove(0),
        ),
        (
            "udp binary: too many tags",
            "jaeger_binary",
            jaeger::encode_udp_emit_batch(&wide, false).remove(0),
        ),
    ]
}

/// A refusal for a limit is `limit_exceeded` in the metrics, as for every other receiver; the
/// Jaeger receivers count it as `malformed` because `decode_error` (receivers/jaeger.rs) matches
/// only a top-level `DecodeError::Limit`, while the decoders wrap it as
/// `DecodeError::Span { cause: Limit(..), .. }`.
#[tokio::test]
async fn jaeger_limit_refusals_are_counted_as_limit_exceeded() {
    let mut abuse = Abuse::new();
    let limit = MAX_ATTRIBUTES.to_string();
    let words = ["attributes", limit.as_str()];
    for (what, listener, request) in wide_jaeger_requests() {
        if listener == "jaeger_grpc" {
            abuse
                .refused_grpc(what, listener, request, INVALID_ARGUMENT, "limit_exceeded", &words)
                .await;
        } else {
            abuse
                .refused(what, listener, request, StatusCode::BAD_REQUEST, "limit_exceeded", &words)
                .await;
        }
    }
    for (_, listener, datagram) in wide_jaeger_datagrams() {
        abuse.dropped_uncounted(listener, &datagram).await;
        abuse.count(listener, "limit_exceeded");
    }
    abuse.assert_counted().await;
}
