//! The gRPC listeners (OTLP and Jaeger) fed garbage messages, broken framing, oversized
//! messages, unknown compressions and unknown methods.

use crate::common::{grpc_frame, grpc_request_raw};

use super::*;

#[tokio::test]
async fn grpc_listeners_refuse_garbage_oversized_and_unknown_calls() {
    let mut abuse = Abuse::new();
    for (listener, path) in [("otlp_grpc", OTLP_EXPORT), ("jaeger_grpc", JAEGER_POST_SPANS)] {
        for (kind, bytes) in garbage() {
            abuse
                .refused_grpc(
                    &format!("{listener} {kind}"),
                    listener,
                    grpc_request(path, &bytes, false),
                    INVALID_ARGUMENT,
                    "malformed",
                    &[],
                )
                .await;
        }
        // Broken framing is a protocol error, INTERNAL as gRPC's own servers answer it.
        for (kind, body, gzip_encoding, words) in broken_grpc_framing() {
            let what = format!("{listener} {kind}");
            let request = grpc_request_raw(path, body, gzip_encoding);
            abuse.refused_grpc(&what, listener, request, INTERNAL, "malformed", &words).await;
        }
        // A compression gRPC does not define here: UNIMPLEMENTED, as the gRPC spec asks.
        let mut request = grpc_request(path, b"\x0a\x00", false);
        request.headers_mut().insert("grpc-encoding", "br".parse().expect("value"));
        let what = format!("{listener} br");
        abuse
            .refused_grpc(
                &what,
                listener,
                request,
                UNIMPLEMENTED,
                "unsupported_media_type",
                &["br"],
            )
            .await;

        // Over the limit, as sent or once decompressed: refused before the handler runs. (The
        // code is pinned by `grpc_messages_over_the_limit_are_resource_exhausted`.)
        for (kind, request) in oversized_grpc_calls(path) {
            let reply = abuse.server.grpc(listener, request).await;
            assert_eq!(reply.http_status, StatusCode::OK, "{listener} {kind}");
            assert!(reply.code.is_some_and(|c| c != OK), "{listener} {kind}: {reply:?}");
            assert_names(&format!("{listener} {kind}"), &reply.message, &["limit"]);
            abuse.count(listener, "too_large");
        }
    }
    abuse.assert_still_serves().await;
}

/// Request bodies that are not a gRPC frame holding one message.
fn broken_grpc_framing() -> Vec<(&'static str, Vec<u8>, bool, Vec<&'static str>)> {
    let mut cut = grpc_frame(b"\x0a\x10abcdefgh", false);
    cut.truncate(8);
    vec![
        ("frame cut short", cut, false, vec!["EOF"]),
        ("frame header cut short", vec![0, 0, 0], false, vec!["EOF"]),
        ("no message", Vec::new(), false, vec!["missing"]),
        (
            "compressed flag without grpc-encoding",
            grpc_frame(&gzip(b"x"), true),
            false,
            vec!["grpc-encoding"],
        ),
        ("corrupt gzip message", grpc_frame(b"not gzip", true), true, vec!["decompress"]),
    ]
}

/// A message one byte over the limit, and a small gzip bomb.
fn oversized_grpc_calls(path: &str) -> Vec<(&'static str, Request<axum::body::Body>)> {
    let mut big = vec![0x0a];
    big.resize(LIMITS.max_decompressed_bytes + 1, 0);
    vec![
        ("oversized", grpc_request(path, &big, false)),
        ("gzip bomb", grpc_request(path, &vec![0u8; 16 << 20], true)),
    ]
}

/// gRPC's own servers (grpc-core, grpc-go, grpc-java) answer a received message larger than
/// their limit with RESOURCE_EXHAUSTED, and so does kiseki's `error::grpc_status` for
/// `Reason::TooLarge`; clients treat OUT_OF_RANGE differently.
#[tokio::test]
async fn grpc_messages_over_the_limit_are_resource_exhausted() {
    let mut abuse = Abuse::new();
    for (listener, path) in [("otlp_grpc", OTLP_EXPORT), ("jaeger_grpc", JAEGER_POST_SPANS)] {
        for (kind, request) in oversized_grpc_calls(path) {
            let what = format!("{listener} {kind}");
            abuse
                .refused_grpc(&what, listener, request, RESOURCE_EXHAUSTED, "too_large", &["limit"])
                .await;
        }
    }
    abuse.assert_counted().await;
}

#[tokio::test]
async fn grpc_listeners_answer_unknown_methods_with_unimplemented() {
    let abuse = Abuse::new();
    for listener in ["otlp_grpc", "jaeger_grpc"] {
        for path in [
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            "/jaeger.api_v2.CollectorService/Nope",
            "/grpc.health.v1.Health/Check",
        ] {
            let reply = abuse.server.grpc(listener, grpc_request(path, b"", false)).await;
            assert_eq!(reply.http_status, StatusCode::OK, "{listener} {path}");
            assert_eq!(reply.code, Some(UNIMPLEMENTED), "{listener} {path}");
            assert_names(path, &reply.message, &[path]);
        }
    }
}

#[tokio::test]
async fn grpc_unknown_methods_are_counted() {
    let mut abuse = Abuse::new();
    for listener in ["otlp_grpc", "jaeger_grpc"] {
        let path = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
        abuse
            .refused_grpc(
                &format!("{listener} {path}"),
                listener,
                grpc_request(path, b"", false),
                UNIMPLEMENTED,
                "not_found",
                &[path],
            )
            .await;
    }
    abuse.assert_counted().await;
}
