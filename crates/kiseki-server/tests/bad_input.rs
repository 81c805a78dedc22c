//! Every receiver fed what a broken or hostile client sends: cut and garbage payloads, wrong
//! content types and encodings, oversized bodies and gzip bombs, values past the decoders'
//! limits, invalid UTF-8, zero ids, unknown paths, methods and gRPC methods, garbage datagrams.
//!
//! Each refusal must carry the status (or gRPC code) the client can act on and a message that
//! names the problem, must be counted under its receiver and reason in
//! `kiseki_receiver_requests_rejected_total`, and must leave the server working: every test ends
//! by sending valid requests to every receiver. No answer may be a 5xx.

mod common;

// One module per receiver family; the harness and the tests of every endpoint are here.
#[path = "bad_input/datadog.rs"]
mod datadog_input;
#[path = "bad_input/grpc.rs"]
mod grpc_input;
#[path = "bad_input/jaeger.rs"]
mod jaeger_input;
#[path = "bad_input/otlp.rs"]
mod otlp_input;
#[path = "bad_input/zipkin.rs"]
mod zipkin_input;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{
    Capture, GrpcReply, Reply, TestServer, capture_for, get, grpc_request, gzip, post, request,
};
use http::{Request, StatusCode, header};
use kiseki_codec::datadog::{self, DdChunk, DdSpan};
use kiseki_codec::jaeger::{self, ThriftProtocol};
use kiseki_codec::limits::{MAX_ATTRIBUTES, MAX_VALUE_DEPTH};
use kiseki_model::{AnyValue, Resource, SpanId, SpanKind, TraceId};
use kiseki_server::BodyLimits;
use prost::Message;
use serde_json::{Value, json};

/// Small enough that a test can exceed it, large enough for every capture used here.
const LIMITS: BodyLimits =
    BodyLimits { max_request_bytes: 1 << 20, max_decompressed_bytes: 2 << 20 };

const OTLP_EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const JAEGER_POST_SPANS: &str = "/jaeger.api_v2.CollectorService/PostSpans";

/// Ids chosen so their bytes (and hex) are easy to find in an encoded payload and patch.
const TRACE_HIGH: u64 = 0xc1c2_c3c4_c5c6_c7c8;
const TRACE_LOW: u64 = 0xb1b2_b3b4_b5b6_b7b8;
const SPAN: u64 = 0xa1a2_a3a4_a5a6_a7a8;
const GOOD_SPAN: u64 = 0xd1d2_d3d4_d5d6_d7d8;
/// A name whose bytes are patched into invalid UTF-8.
const MARKED_NAME: &str = "MARKED-NAME";
const START: u64 = 1_700_000_000_000_000_000;

// gRPC status codes.
const OK: i32 = 0;
const INVALID_ARGUMENT: i32 = 3;
const RESOURCE_EXHAUSTED: i32 = 8;
const UNIMPLEMENTED: i32 = 12;
const INTERNAL: i32 = 13;

/// `google.rpc.Status`, the body of an OTLP/HTTP error.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

type Rejections = BTreeMap<(String, String), u64>;

/// Where a request goes: listener, path and content type.
type Target = (&'static str, &'static str, &'static str);

const OTLP_PROTO: Target = ("otlp_http", "/v1/traces", "application/x-protobuf");
const OTLP_JSON: Target = ("otlp_http", "/v1/traces", "application/json");
const ZIPKIN_V1_JSON: Target = ("zipkin", "/api/v1/spans", "application/json");
const ZIPKIN_V1_THRIFT: Target = ("zipkin", "/api/v1/spans", "application/x-thrift");
const ZIPKIN_V2_JSON: Target = ("zipkin", "/api/v2/spans", "application/json");
const ZIPKIN_V2_PROTO: Target = ("zipkin", "/api/v2/spans", "application/x-protobuf");
const JAEGER_BINARY: Target = ("jaeger_http", "/api/traces", "application/x-thrift");
const JAEGER_COMPACT: Target =
    ("jaeger_http", "/api/traces", "application/vnd.apache.thrift.compact");
const DATADOG_V04: Target = ("datadog", "/v0.4/traces", "application/msgpack");
const DATADOG_V04_JSON: Target = ("datadog", "/v0.4/traces", "application/json");
const DATADOG_V05: Target = ("datadog", "/v0.5/traces", "application/msgpack");
const DATADOG_V07: Target = ("datadog", "/v0.7/traces", "application/msgpack");

// Reasons of `kiseki_receiver_requests_rejected_total`.
const MALFORMED: &str = "malformed";
const LIMIT_EXCEEDED: &str = "limit_exceeded";

/// A request a receiver must refuse with 400: the reason it is counted under and words its
/// message must contain.
struct Hostile {
    what: String,
    target: Target,
    body: Vec<u8>,
    reason: &'static str,
    words: Vec<String>,
}

fn hostile(
    what: &str,
    target: Target,
    body: Vec<u8>,
    reason: &'static str,
    words: &[&str],
) -> Hostile {
    Hostile {
        what: what.to_owned(),
        target,
        body,
        reason,
        words: words.iter().map(|w| w.to_string()).collect(),
    }
}

/// A server being abused, and the rejections it must have counted so far.
struct Abuse {
    server: TestServer,
    counted: Rejections,
}

impl Abuse {
    fn new() -> Self {
        Self { server: TestServer::with_limits(LIMITS), counted: BTreeMap::new() }
    }

    async fn send(&self, listener: &str, request: Request<axum::body::Body>) -> Reply {
        let reply = self.server.send(listener, request).await;
        assert!(!reply.status.is_server_error(), "{listener}: {} {}", reply.status, reply.text());
        reply
    }

    /// Sends a request that must be refused with `status`, counted as `reason`, with a message
    /// that contains every one of `words` (ignoring case). Returns the message.
    async fn refused(
        &mut self,
        what: &str,
        listener: &str,
        request: Request<axum::body::Body>,
        status: StatusCode,
        reason: &str,
        words: &[&str],
    ) -> String {
        let reply = self.send(listener, request).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text());
        let message = error_message(&reply, what);
        assert_names(what, &message, words);
        self.count(listener, reason);
        message
    }

    /// Sends every hostile request; each must be refused as it says.
    async fn refuse_all(&mut self, cases: Vec<Hostile>) {
        for case in cases {
            let (listener, path, content_type) = case.target;
            let words: Vec<&str> = case.words.iter().map(String::as_str).collect();
            let request = post(path, content_type, case.body);
            let status = StatusCode::BAD_REQUEST;
            self.refused(&case.what, listener, request, status, case.reason, &words).await;
        }
    }

    /// Sends a gRPC call that must end with `code` and a message containing `words`; `reason` is
    /// how the rejection must be counted.
    async fn refused_grpc(
        &mut self,
        what: &str,
        listener: &str,
        request: Request<axum::body::Body>,
        code: i32,
        reason: &str,
        words: &[&str],
    ) -> GrpcReply {
        let reply = self.server.grpc(listener, request).await;
        assert_eq!(reply.http_status, StatusCode::OK, "{what}: gRPC answers errors in HTTP 200");
        assert_eq!(reply.code, Some(code), "{what}: grpc-message {:?}", reply.message);
        assert_names(what, &reply.message, words);
        self.count(listener, reason);
        reply
    }

    /// A datagram that must be dropped and counted as malformed.
    async fn dropped(&mut self, listener: &str, payload: &[u8]) {
        self.dropped_uncounted(listener, payload).await;
        self.count(listener, "malformed");
    }

    /// A datagram that must be dropped; the caller says how it is counted.
    async fn dropped_uncounted(&mut self, listener: &str, payload: &[u8]) {
        let before = self.server.metrics().await.sum("kiseki_receiver_spans_total", &[]);
        self.server.datagram(listener, payload).await;
        let after = self.server.metrics().await.sum("kiseki_receiver_spans_total", &[]);
        assert_eq!(before, after, "{listener}: a refused datagram stored spans");
    }

    /// Records the one rejection counted for `receiver` since `before`, whatever its reason,
    /// for refusals whose reason label is pinned by a test of its own.
    async fn counted_since(&mut self, what: &str, receiver: &str, before: &Rejections) {
        let after = self.server.metrics().await.rejections();
        let new: Vec<(&(String, String), u64)> = after
            .iter()
            .map(|(key, count)| (key, count - before.get(key).copied().unwrap_or(0)))
            .filter(|(_, added)| *added > 0)
            .collect();
        assert!(
            matches!(new[..], [((r, _), 1)] if r == receiver),
            "{what}: counted {new:?}, expected one rejection for {receiver}"
        );
        let ((_, reason), _) = new[0];
        self.count(receiver, &reason.clone());
    }

    fn count(&mut self, receiver: &str, reason: &str) {
        *self.counted.entry((receiver.to_owned(), reason.to_owned())).or_default() += 1;
    }

    /// Every rejection so far, and no other, is in `/metrics`.
    async fn assert_counted(&self) {
        let metrics = self.server.metrics().await;
        assert_eq!(metrics.rejections(), self.counted, "\n{}", metrics.0);
    }

    /// Valid requests to every receiver still succeed, and the rejections are all counted.
    async fn assert_still_serves(&self) {
        for endpoint in http_endpoints() {
            let reply =
                self.send(endpoint.listener, endpoint.request(endpoint.valid.clone())).await;
            assert_eq!(reply.status, endpoint.ok, "{}: {}", endpoint.name, reply.text());
        }
        for (listener, folder) in
            [("otlp_grpc", "python-otel-otlp-grpc"), ("jaeger_grpc", "python-otel-jaeger-grpc")]
        {
            let capture = capture_for(folder, listener);
            let reply = self.server.grpc(listener, capture.grpc_request(false)).await;
            assert_eq!(reply.code, Some(OK), "{listener}: {}", reply.message);
        }
        for (listener, folder) in [
            ("jaeger_compact", "python-jaeger-client"),
            ("jaeger_binary", "node-jaeger-client-udp"),
        ] {
            let capture = capture_for(folder, listener);
            let labels = [("receiver", listener)];
            let before = self.server.metrics().await.sum("kiseki_receiver_spans_total", &labels);
            self.server.datagram(listener, &capture.body).await;
            let after = self.server.metrics().await.sum("kiseki_receiver_spans_total", &labels);
            assert!(after > before, "{listener} took no spans from a valid datagram");
        }
        // What was stored can be read back.
        let expected = common::expected_traces("python-jaeger-client");
        assert!(self.server.trace(&expected[0].trace_id).await.is_some());
        self.assert_counted().await;
    }
}

fn assert_names(what: &str, message: &str, words: &[&str]) {
    assert!(!message.trim().is_empty(), "{what}: the refusal has no message");
    for word in words {
        assert!(
            message.to_lowercase().contains(&word.to_lowercase()),
            "{what}: message {message:?} does not mention {word:?}"
        );
    }
}

/// The message of a refusal. OTLP/HTTP answers with a `google.rpc.Status` in the request's
/// encoding whose code matches the HTTP status; the other receivers with plain text.
fn error_message(reply: &Reply, what: &str) -> String {
    let grpc_code = match reply.status {
        StatusCode::BAD_REQUEST => INVALID_ARGUMENT,
        StatusCode::PAYLOAD_TOO_LARGE => RESOURCE_EXHAUSTED,
        _ => UNIMPLEMENTED,
    };
    match reply.content_type() {
        "application/x-protobuf" => {
            let status = RpcStatus::decode(reply.body.clone())
                .unwrap_or_else(|e| panic!("{what}: not a google.rpc.Status: {e}"));
            assert_eq!(status.code, grpc_code, "{what}: {}", status.message);
            status.message
        }
        "application/json" => {
            let json = reply.json();
            assert_eq!(json["code"], grpc_code, "{what}: {json}");
            json["message"].as_str().unwrap_or_default().to_owned()
        }
        content_type => {
            assert!(content_type.starts_with("text/plain"), "{what}: {content_type}");
            reply.text()
        }
    }
}

/// An HTTP endpoint with one encoding, and what it answers.
struct HttpEndpoint {
    name: &'static str,
    listener: &'static str,
    path: &'static str,
    content_type: &'static str,
    /// A body this endpoint accepts.
    valid: Vec<u8>,
    /// The status of an accepted request.
    ok: StatusCode,
    /// The status of an empty body: accepted where the format reads it as no spans.
    empty: StatusCode,
}

impl HttpEndpoint {
    fn request(&self, body: Vec<u8>) -> Request<axum::body::Body> {
        post(self.path, self.content_type, body)
    }

    fn gzip_request(&self, body: Vec<u8>) -> Request<axum::body::Body> {
        let mut request = self.request(body);
        request.headers_mut().insert(header::CONTENT_ENCODING, "gzip".parse().expect("value"));
        request
    }
}

fn capture_body(folder: &str, listener: &str) -> Vec<u8> {
    capture_for(folder, listener).body
}

/// Every HTTP receiver endpoint in every encoding it reads.
fn http_endpoints() -> Vec<HttpEndpoint> {
    use StatusCode as S;
    let endpoint = |name, listener, path, content_type, valid, ok, empty| HttpEndpoint {
        name,
        listener,
        path,
        content_type,
        valid,
        ok,
        empty,
    };
    let spans = vec![model_span(SPAN, "GET /cart", 0)];
    let v04 = datadog::write_v04(&[dd_chunk(vec![dd_span()])]);
    vec![
        endpoint(
            "otlp proto",
            "otlp_http",
            "/v1/traces",
            "application/x-protobuf",
            capture_body("python-otel-otlp-http", "otlp_http"),
            S::OK,
            // An empty protobuf message is a valid request without spans.
            S::OK,
        ),
        endpoint(
            "otlp json",
            "otlp_http",
            "/v1/traces",
            "application/json",
            capture_body("python-otel-otlp-http-json", "otlp_http"),
            S::OK,
            S::BAD_REQUEST,
        ),
        // Zipkin reads an empty body as an empty list of spans.
        endpoint(
            "zipkin v1 json",
            "zipkin",
            "/api/v1/spans",
            "application/json",
            capture_body("python-pyzipkin-v1-json", "zipkin"),
            S::ACCEPTED,
            S::ACCEPTED,
        ),
        endpoint(
            "zipkin v1 thrift",
            "zipkin",
            "/api/v1/spans",
            "application/x-thrift",
            capture_body("python-pyzipkin-v1-thrift", "zipkin"),
            S::ACCEPTED,
            S::ACCEPTED,
        ),
        endpoint(
            "zipkin v2 json",
            "zipkin",
            "/api/v2/spans",
            "application/json",
            capture_body("python-pyzipkin-v2-json", "zipkin"),
            S::ACCEPTED,
            S::ACCEPTED,
        ),
        endpoint(
            "zipkin v2 proto",
            "zipkin",
            "/api/v2/spans",
            "application/x-protobuf",
            capture_body("python-pyzipkin-v2-proto", "zipkin"),
            S::ACCEPTED,
            S::ACCEPTED,
        ),
        endpoint(
            "jaeger thrift binary",
            "jaeger_http",
            "/api/traces",
            "application/x-thrift",
            capture_body("python-otel-jaeger-thrift-collector", "jaeger_http"),
            S::ACCEPTED,
            S::BAD_REQUEST,
        ),
        endpoint(
            "jaeger thrift compact",
            "jaeger_http",
            "/api/traces",
            "application/vnd.apache.thrift.compact",
            jaeger::encode_thrift_batch(&spans, ThriftProtocol::Compact).remove(0),
            S::ACCEPTED,
            S::BAD_REQUEST,
        ),
        endpoint(
            "datadog v0.3 msgpack",
            "datadog",
            "/v0.3/traces",
            "application/msgpack",
            v04.clone(),
            S::OK,
            S::BAD_REQUEST,
        ),
        endpoint(
            "datadog v0.3 json",
            "datadog",
            "/v0.3/traces",
            "application/json",
            dd_json(SPAN),
            S::OK,
            S::BAD_REQUEST,
        ),
        endpoint(
            "datadog v0.4 msgpack",
            "datadog",
            "/v0.4/traces",
            "application/msgpack",
            capture_body("python-ddtrace-v04", "datadog"),
            S::OK,
            S::BAD_REQUEST,
        ),
        endpoint(
            "datadog v0.4 json",
            "datadog",
            "/v0.4/traces",
            "application/json",
            dd_json(SPAN),
            S::OK,
            S::BAD_REQUEST,
        ),
        endpoint(
            "datadog v0.5",
            "datadog",
            "/v0.5/traces",
            "application/msgpack",
            capture_body("python-ddtrace-v05", "datadog"),
            S::OK,
            S::BAD_REQUEST,
        ),
        endpoint(
            "datadog v0.7",
            "datadog",
            "/v0.7/traces",
            "application/msgpack",
            dd_v07(&v04),
            S::OK,
            S::BAD_REQUEST,
        ),
    ]
}

/// Bytes no tracer sends: a fixed text and a seeded pseudo-random run.
fn garbage() -> Vec<(&'static str, Vec<u8>)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let random = (0..700)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    vec![
        ("text garbage", b"\xff\xfe\xfd this is not a payload \x00\x01".to_vec()),
        ("random bytes", random),
    ]
}

#[tokio::test]
async fn cut_garbage_and_empty_bodies_are_refused_on_every_http_endpoint() {
    let mut abuse = Abuse::new();
    for endpoint in http_endpoints() {
        let name = endpoint.name;
        let valid = &endpoint.valid;
        for cut in [valid.len() / 2, valid.len() - 1] {
            let what = format!("{name} cut at {cut} of {}", valid.len());
            let request = endpoint.request(valid[..cut].to_vec());
            abuse
                .refused(
                    &what,
                    endpoint.listener,
                    request,
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    &[],
                )
                .await;
        }
        for (kind, bytes) in garbage() {
            let what = format!("{name} {kind}");
            let request = endpoint.request(bytes);
            abuse
                .refused(
                    &what,
                    endpoint.listener,
                    request,
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    &[],
                )
                .await;
        }
        let what = format!("{name} empty body");
        if endpoint.empty == StatusCode::BAD_REQUEST {
            let request = endpoint.request(Vec::new());
            abuse
                .refused(
                    &what,
                    endpoint.listener,
                    request,
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    &[],
                )
                .await;
        } else {
            let reply = abuse.send(endpoint.listener, endpoint.request(Vec::new())).await;
            assert_eq!(reply.status, endpoint.empty, "{what}: {}", reply.text());
        }
    }
    // A compressed body cut short is corrupt gzip.
    let gzipped = capture_for("python-otel-otlp-http-gzip", "otlp_http");
    let mut request = gzipped.http_request();
    *request.body_mut() = gzipped.body[..gzipped.body.len() - 10].to_vec().into();
    abuse
        .refused("cut gzip", "otlp_http", request, StatusCode::BAD_REQUEST, "malformed", &["gzip"])
        .await;
    abuse.assert_still_serves().await;
}

#[tokio::test]
async fn wrong_content_types_are_refused_naming_the_type() {
    let mut abuse = Abuse::new();
    for endpoint in http_endpoints() {
        let what = format!("{} as application/xml", endpoint.name);
        let request = post(endpoint.path, "application/xml", endpoint.valid.clone());
        abuse
            .refused(
                &what,
                endpoint.listener,
                request,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                &["application/xml"],
            )
            .await;
    }
    // Thrift and protobuf do not belong on the other Zipkin API version.
    let v2_proto = capture_body("python-pyzipkin-v2-proto", "zipkin");
    abuse
        .refused(
            "zipkin v1 protobuf",
            "zipkin",
            post("/api/v1/spans", "application/x-protobuf", v2_proto),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &["application/x-protobuf"],
        )
        .await;
    let v1_thrift = capture_body("python-pyzipkin-v1-thrift", "zipkin");
    abuse
        .refused(
            "zipkin v2 thrift",
            "zipkin",
            post("/api/v2/spans", "application/x-thrift", v1_thrift),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &["application/x-thrift"],
        )
        .await;
    // OTLP has no default encoding.
    let body = capture_body("python-otel-otlp-http", "otlp_http");
    abuse
        .refused(
            "otlp without a content type",
            "otlp_http",
            request("POST", "/v1/traces", None, body),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &["none", "application/x-protobuf", "application/json"],
        )
        .await;
    abuse.assert_still_serves().await;
}

#[tokio::test]
async fn content_encodings_are_undone_or_refused() {
    let mut abuse = Abuse::new();
    let bomb = gzip(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < LIMITS.max_request_bytes, "the bomb itself fits the request limit");
    for endpoint in http_endpoints() {
        let name = endpoint.name;
        let reply =
            abuse.send(endpoint.listener, endpoint.gzip_request(gzip(&endpoint.valid))).await;
        assert_eq!(reply.status, endpoint.ok, "{name} gzipped: {}", reply.text());

        let mut request = endpoint.request(endpoint.valid.clone());
        request.headers_mut().insert(header::CONTENT_ENCODING, "br".parse().expect("value"));
        abuse
            .refused(
                &format!("{name} in br"),
                endpoint.listener,
                request,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                &["\"br\""],
            )
            .await;

        let request = endpoint.gzip_request(endpoint.valid.clone());
        abuse
            .refused(
                &format!("{name} not gzip"),
                endpoint.listener,
                request,
                StatusCode::BAD_REQUEST,
                "malformed",
                &["gzip"],
            )
            .await;

        abuse
            .refused(
                &format!("{name} gzip bomb"),
                endpoint.listener,
                endpoint.gzip_request(bomb.clone()),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &["decompressed", &LIMITS.max_decompressed_bytes.to_string()],
            )
            .await;
    }
    abuse.assert_still_serves().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let mut abuse = Abuse::new();
    let limit = LIMITS.max_request_bytes;
    for endpoint in http_endpoints() {
        let name = endpoint.name;
        let mut big = endpoint.valid.clone();
        big.resize(limit + 1, b' ');
        abuse
            .refused(
                &format!("{name} one byte over"),
                endpoint.listener,
                endpoint.request(big),
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &["larger than the limit", &limit.to_string()],
            )
            .await;

        // Refused on the declared length alone, before the body is read.
        let mut request = endpoint.request(endpoint.valid.clone());
        request.headers_mut().insert(
            header::CONTENT_LENGTH,
            (limit as u64 * 100).to_string().parse().expect("value"),
        );
        abuse
            .refused(
                &format!("{name} declared too long"),
                endpoint.listener,
                request,
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                &["larger than the limit"],
            )
            .await;
    }
    abuse.assert_still_serves().await;
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_refused() {
    let mut abuse = Abuse::new();
    let receivers = [
        ("otlp_http", "/v1/traces"),
        ("zipkin", "/api/v2/spans"),
        ("zipkin", "/api/v1/spans"),
        ("jaeger_http", "/api/traces"),
        ("datadog", "/v0.4/traces"),
    ];
    for (listener, path) in receivers {
        for unknown in ["/", "/v1/logs", "/api/v3/spans", "/v0.4/traces/extra"] {
            if unknown == path {
                continue;
            }
            abuse
                .refused(
                    &format!("{listener} POST {unknown}"),
                    listener,
                    post(unknown, "application/json", "[]"),
                    StatusCode::NOT_FOUND,
                    "not_found",
                    &[unknown],
                )
                .await;
        }
        for method in ["GET", "DELETE", "PATCH"] {
            // Zipkin's port answers `GET /api/v2/spans` from its query API, as Zipkin does.
            if (listener, path, method) == ("zipkin", "/api/v2/spans", "GET") {
                continue;
            }
            let reply = abuse.send(listener, request(method, path, None, Vec::new())).await;
            assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{listener} {method} {path}");
            assert_names(&format!("{listener} {method}"), &reply.text(), &["method"]);
            abuse.count(listener, "method_not_allowed");
        }
    }
    // Datadog takes traces by PUT and POST; /info only by GET.
    let reply = abuse.send("datadog", request("POST", "/info", None, Vec::new())).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    abuse.count("datadog", "method_not_allowed");
    let reply = abuse.send("datadog", get("/info")).await;
    assert_eq!(reply.status, StatusCode::OK);
    abuse.assert_still_serves().await;
}

/// RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field in a 405 response
/// containing a list of the target resource's currently supported methods."
#[tokio::test]
async fn method_not_allowed_says_which_methods_are() {
    let abuse = Abuse::new();
    for (listener, path, allowed) in [
        ("otlp_http", "/v1/traces", "POST"),
        ("zipkin", "/api/v2/spans", "POST"),
        ("zipkin", "/api/v1/spans", "POST"),
        ("jaeger_http", "/api/traces", "POST"),
        ("datadog", "/v0.4/traces", "PUT"),
    ] {
        let reply = abuse.send(listener, request("DELETE", path, None, Vec::new())).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        let allow = reply.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(allow.contains(allowed), "{listener} DELETE {path}: Allow is {allow:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Payloads shared by the receiver modules
// ---------------------------------------------------------------------------------------------

fn trace_bytes() -> Vec<u8> {
    TraceId::from_halves(TRACE_HIGH, TRACE_LOW).expect("non-zero").to_bytes().to_vec()
}

fn trace_hex() -> String {
    format!("{TRACE_HIGH:016x}{TRACE_LOW:016x}")
}

/// Replaces every occurrence of `from` with `to` (of the same length); `from` must occur.
fn patch(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = body.to_vec();
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "pattern {from:02x?} not in the payload");
    out
}

/// `MARKED_NAME` with its first byte made invalid UTF-8.
fn invalid_utf8(body: &[u8]) -> Vec<u8> {
    let mut broken = MARKED_NAME.as_bytes().to_vec();
    broken[0] = 0xff;
    patch(body, MARKED_NAME.as_bytes(), &broken)
}

fn model_span(span_id: u64, name: &str, attributes: usize) -> kiseki_model::Span {
    let trace_id = TraceId::from_halves(TRACE_HIGH, TRACE_LOW).expect("non-zero");
    let mut span = kiseki_model::Span::new(trace_id, SpanId::new(span_id).expect("non-zero"));
    span.name = name.into();
    span.kind = SpanKind::Server;
    span.start_time_unix_nano = START;
    span.end_time_unix_nano = START + 1_000_000;
    span.resource = Arc::new(Resource::for_service("abuse"));
    for i in 0..attributes {
        span.attributes.push(format!("k{i}"), AnyValue::Str(format!("v{i}").into()));
    }
    span
}

/// A zero-id copy of a payload: every big-endian occurrence of the span id, or of both trace id
/// halves, zeroed.
fn zero_span_id(body: &[u8]) -> Vec<u8> {
    patch(body, &SPAN.to_be_bytes(), &[0; 8])
}

fn zero_trace_id(body: &[u8]) -> Vec<u8> {
    patch(&patch(body, &TRACE_HIGH.to_be_bytes(), &[0; 8]), &TRACE_LOW.to_be_bytes(), &[0; 8])
}

fn dd_span() -> DdSpan {
    DdSpan {
        service: "abuse".into(),
        name: "web.request".into(),
        resource: "GET /".into(),
        trace_id: TRACE_LOW,
        span_id: SPAN,
        start: START as i64,
        duration: 1_000_000,
        meta: vec![("_dd.p.tid".into(), format!("{TRACE_HIGH:016x}").into())],
        ..Default::default()
    }
}

fn dd_chunk(spans: Vec<DdSpan>) -> DdChunk {
    DdChunk { spans, ..Default::default() }
}

/// The v0.4 JSON form of one span.
fn dd_json(span_id: u64) -> Vec<u8> {
    json!([[{
        "service": "abuse",
        "name": "web.request",
        "resource": "GET /",
        "trace_id": TRACE_LOW,
        "span_id": span_id,
        "parent_id": 0,
        "start": START,
        "duration": 1_000_000,
        "error": 0,
        "meta": {"_dd.p.tid": format!("{TRACE_HIGH:016x}")},
        "metrics": {},
    }]])
    .to_string()
    .into_bytes()
}

/// A v0.7 `TracerPayload` `{"chunks": [{"spans": [...]}]}` holding the spans of a v0.4 body of
/// one chunk.
fn dd_v07(v04_one_chunk: &[u8]) -> Vec<u8> {
    let spans = &v04_one_chunk[1..]; // the chunk's span array, after the outer array header
    let mut body = vec![0x81, 0xa6];
    body.extend_from_slice(b"chunks");
    body.extend_from_slice(&[0x91, 0x81, 0xa5]);
    body.extend_from_slice(b"spans");
    body.extend_from_slice(spans);
    body
}

// ---------------------------------------------------------------------------------------------
// Datagrams, lying counts, media type spellings, the query API
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn garbage_datagrams_are_dropped_and_counted() {
    let mut abuse = Abuse::new();
    let compact: Capture = capture_for("python-jaeger-client", "jaeger_compact");
    let binary: Capture = capture_for("node-jaeger-client-udp", "jaeger_binary");
    for (listener, valid, other) in [
        ("jaeger_compact", &compact.body, &binary.body),
        ("jaeger_binary", &binary.body, &compact.body),
    ] {
        abuse.dropped(listener, b"").await;
        for (_, bytes) in garbage() {
            abuse.dropped(listener, &bytes).await;
        }
        abuse.dropped(listener, &valid[..valid.len() / 2]).await;
        abuse.dropped(listener, &valid[..valid.len() - 1]).await;
        // The other port's protocol.
        abuse.dropped(listener, other).await;
    }
    // A bare Batch is not an emitBatch message.
    let batch = jaeger::encode_thrift_batch(&[model_span(SPAN, "bare", 0)], ThriftProtocol::Binary);
    abuse.dropped("jaeger_binary", &batch[0]).await;
    abuse.assert_still_serves().await;
}

/// Tiny bodies whose counts or lengths promise gigabytes: refused from the bytes at hand,
/// without allocating what they promise.
#[tokio::test]
async fn counts_larger_than_the_payload_are_refused() {
    let mut abuse = Abuse::new();
    let huge_array = [0xdd, 0x7f, 0xff, 0xff, 0xff];
    let huge = "count of 2147483647";
    abuse
        .refuse_all(vec![
            hostile("datadog v0.4 traces", DATADOG_V04, huge_array.to_vec(), MALFORMED, &[huge]),
            hostile(
                "datadog v0.4 spans",
                DATADOG_V04,
                [&[0x91][..], &huge_array].concat(),
                MALFORMED,
                &["trace 0", huge],
            ),
            hostile(
                "datadog v0.5 string table",
                DATADOG_V05,
                [&[0x92][..], &huge_array].concat(),
                MALFORMED,
                &["string table", huge],
            ),
            hostile(
                "datadog v0.7 payload map",
                DATADOG_V07,
                vec![0xdf, 0x7f, 0xff, 0xff, 0xff],
                MALFORMED,
                &[huge],
            ),
            hostile(
                "jaeger binary span list",
                JAEGER_BINARY,
                vec![0x0f, 0x00, 0x02, 0x0c, 0x7f, 0xff, 0xff, 0xff],
                MALFORMED,
                &["2147483647"],
            ),
            hostile(
                "jaeger compact span list",
                JAEGER_COMPACT,
                vec![0x29, 0xfc, 0xff, 0xff, 0xff, 0x07],
                MALFORMED,
                &["larger than the payload"],
            ),
            hostile(
                "zipkin v1 thrift span list",
                ZIPKIN_V1_THRIFT,
                vec![0x0c, 0x7f, 0xff, 0xff, 0xff],
                MALFORMED,
                &["2147483647"],
            ),
            hostile(
                "otlp protobuf length",
                OTLP_PROTO,
                vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x07],
                MALFORMED,
                &["ends early"],
            ),
            hostile(
                "zipkin v2 protobuf length",
                ZIPKIN_V2_PROTO,
                vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x07],
                MALFORMED,
                &["protobuf"],
            ),
        ])
        .await;
    let what = "jaeger grpc length";
    let request = grpc_request(JAEGER_POST_SPANS, &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x07], false);
    abuse.refused_grpc(what, "jaeger_grpc", request, INVALID_ARGUMENT, "malformed", &[]).await;
    // An emitBatch message whose name claims 2 GiB.
    abuse.dropped("jaeger_binary", &[0x80, 0x01, 0x00, 0x04, 0x7f, 0xff, 0xff, 0xff]).await;
    abuse.assert_still_serves().await;
}

/// Media types are matched without their parameters and regardless of case.
#[tokio::test]
async fn content_types_with_parameters_and_capitals_are_understood() {
    let abuse = Abuse::new();
    for endpoint in http_endpoints() {
        let content_type = format!("{}; charset=utf-8", endpoint.content_type.to_uppercase());
        let reply = abuse
            .send(endpoint.listener, post(endpoint.path, &content_type, endpoint.valid.clone()))
            .await;
        assert_eq!(
            reply.status,
            endpoint.ok,
            "{} as {content_type}: {}",
            endpoint.name,
            reply.text()
        );
    }
    abuse.assert_counted().await;
}

/// The query API answers bad trace ids as Jaeger's does: 400 with its error envelope.
#[tokio::test]
async fn the_query_api_refuses_bad_trace_ids() {
    let abuse = Abuse::new();
    for id in ["not-hex", "123456789012345678901234567890123", "0", "0000000000000000"] {
        let reply = abuse.send("query", get(&format!("/api/traces/{id}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{id}");
        let json = reply.json();
        assert_eq!(json["data"], Value::Null, "{id}");
        assert_eq!(json["errors"][0]["code"], 400, "{id}");
        assert_names(id, json["errors"][0]["msg"].as_str().unwrap_or_default(), &[id]);
    }
    let reply = abuse.send("query", get("/api/traces/abc")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.json()["errors"][0]["code"], 404);
}

/// A zero trace id is hex, and it is the zero that is wrong.
#[tokio::test]
async fn the_query_api_names_a_zero_trace_id() {
    let abuse = Abuse::new();
    for id in ["0", "00000000000000000000000000000000"] {
        let reply = abuse.send("query", get(&format!("/api/traces/{id}"))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        let message = reply.json()["errors"][0]["msg"].as_str().unwrap_or_default().to_owned();
        assert_names(id, &message, &["zero"]);
    }
}
