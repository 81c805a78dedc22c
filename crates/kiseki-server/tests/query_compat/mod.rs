//! What the Jaeger and Zipkin query API tests share: every payload captured from a real tracer
//! replayed into one server through the receivers of its recorded port, and a small shop whose
//! traces have known answers to every search parameter.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fs;
use std::sync::Arc;

use http::StatusCode;
use kiseki_model::{Event, Resource, Span, SpanId, SpanKind, Status, TraceId};

use crate::common::{self, ExpectedTrace, TestServer, captures, expected_traces, post};

/// One capture folder, replayed.
pub struct Folder {
    pub name: String,
    pub expected: Vec<ExpectedTrace>,
    /// zipkin-js lower-cases span and service names.
    pub fold_case: bool,
}

/// Every capture folder that says what its emitter sent.
pub fn folder_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(common::TRACERS)
        .expect("testdata/tracers")
        .map(|entry| entry.expect("directory entry"))
        .filter(|entry| entry.path().join("expected.json").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Sends every span-carrying request of every capture folder (OTLP, Zipkin v1 and v2, Jaeger,
/// Datadog; HTTP, gRPC and UDP) to the listener of its recorded port.
pub async fn replay_every_capture(server: &TestServer) -> Vec<Folder> {
    let mut folders = Vec::new();
    for name in folder_names() {
        for capture in captures(&name).iter().filter(|c| c.carries_spans()) {
            let listener = capture.listener();
            let what = format!("{name}/{}", capture.name());
            match capture.transport.as_str() {
                "udp" => server.datagram(listener, &capture.body).await,
                "grpc" => {
                    let gzip = name.ends_with("-gzip");
                    let reply = server.grpc(listener, capture.grpc_request(gzip)).await;
                    assert_eq!(reply.code, Some(0), "{what}: {}", reply.message);
                }
                _ => {
                    let reply = server.send(listener, capture.http_request()).await;
                    assert!(reply.status.is_success(), "{what}: {} {}", reply.status, reply.text());
                }
            }
        }
        let fold_case = name.contains("zipkin-js");
        folders.push(Folder { expected: expected_traces(&name), name, fold_case });
    }
    assert!(folders.len() >= 30, "every capture folder is replayed");
    folders
}

/// The calls between services a tracer says it made: (caller, callee) for each span whose parent
/// is a span of another service, lower-cased when `fold_case`.
pub fn expected_links(folder: &Folder) -> BTreeSet<(String, String)> {
    let fold = |s: &str| if folder.fold_case { s.to_lowercase() } else { s.to_owned() };
    let mut links = BTreeSet::new();
    for trace in &folder.expected {
        for span in &trace.spans {
            let parent_services = trace
                .spans
                .iter()
                .filter(|p| Some(&p.span_id) == span.parent_span_id.as_ref())
                .map(|p| fold(&p.service));
            for parent in parent_services {
                if parent != fold(&span.service) {
                    links.insert((parent, fold(&span.service)));
                }
            }
        }
    }
    links
}

/// Hex of a trace id, as both APIs write a 128-bit one.
pub fn hex(trace: u128) -> String {
    format!("{trace:032x}")
}

/// Trace ids of the small shop.
pub const PAYMENT_TRACE: u128 = 0xa1a1_0000_0000_0000_0000_0000_0000_0001;
pub const RENDER_TRACE: u128 = 0xb2b2_0000_0000_0000_0000_0000_0000_0002;
pub const ITEMS_TRACE: u128 = 0xc3c3_0000_0000_0000_0000_0000_0000_0003;

/// A small shop with a known answer to every search parameter, its traces 10 s apart, the last
/// one starting at `base_unix_nano + 20 s`:
///
/// - [`PAYMENT_TRACE`] (oldest): `frontend` SERVER `GET /cart` (`http.request.method=GET`,
///   `http.response.status_code=200`) → `frontend` CLIENT `POST /payments`
///   (`peer.service=payments`, failed "card declined") → `payments` SERVER `POST /payments`
///   (failed, event `retried`) → `payments` CLIENT `SELECT orders` (`db.system=postgresql`).
/// - [`RENDER_TRACE`]: `frontend` SERVER `GET /cart` lasting 500 ms → `frontend` INTERNAL
///   `render`.
/// - [`ITEMS_TRACE`] (newest): `cart` SERVER `GET /items` whose resource has
///   `deployment.environment=prod`.
pub fn small_shop(base_unix_nano: u64) -> Vec<Span> {
    let frontend = Arc::new(Resource::for_service("frontend"));
    let payments = Arc::new(Resource::for_service("payments"));
    let mut cart = Resource::for_service("cart");
    cart.attributes.push("deployment.environment", "prod");
    let cart = Arc::new(cart);
    let ms = 1_000_000u64;
    let span = |trace: u128,
                id: u64,
                parent: Option<u64>,
                resource: &Arc<Resource>,
                name: &str,
                kind: SpanKind,
                start_ms: u64,
                duration_ms: u64| {
        let mut span = Span::new(TraceId::new(trace).unwrap(), SpanId::new(id).unwrap());
        span.parent_span_id = parent.and_then(SpanId::new);
        span.resource = Arc::clone(resource);
        span.name = name.into();
        span.kind = kind;
        span.start_time_unix_nano = base_unix_nano + start_ms * ms;
        span.end_time_unix_nano = span.start_time_unix_nano + duration_ms * ms;
        span
    };
    use SpanKind::{Client, Internal, Server};

    let mut root = span(PAYMENT_TRACE, 0x11, None, &frontend, "GET /cart", Server, 0, 80);
    root.attributes.push("http.request.method", "GET");
    root.attributes.push("http.response.status_code", 200i64);
    let mut call =
        span(PAYMENT_TRACE, 0x12, Some(0x11), &frontend, "POST /payments", Client, 10, 60);
    call.attributes.push("peer.service", "payments");
    call.status = Status::error("card declined");
    let mut serve =
        span(PAYMENT_TRACE, 0x13, Some(0x12), &payments, "POST /payments", Server, 12, 55);
    serve.status = Status::error("card declined");
    serve.events.push(Event {
        time_unix_nano: serve.start_time_unix_nano + ms,
        name: "retried".into(),
        ..Event::default()
    });
    let mut query =
        span(PAYMENT_TRACE, 0x14, Some(0x13), &payments, "SELECT orders", Client, 14, 5);
    query.attributes.push("db.system", "postgresql");

    let render_root = span(RENDER_TRACE, 0x21, None, &frontend, "GET /cart", Server, 10_000, 500);
    let render = span(RENDER_TRACE, 0x22, Some(0x21), &frontend, "render", Internal, 10_100, 300);

    let items = span(ITEMS_TRACE, 0x31, None, &cart, "GET /items", Server, 20_000, 20);
    vec![root, call, serve, query, render_root, render, items]
}

/// Sends the small shop through the OTLP/HTTP receiver, as a tracer would.
pub async fn send_small_shop(server: &TestServer, base_unix_nano: u64) {
    let body = kiseki_codec::otlp::encode_traces_proto(&small_shop(base_unix_nano));
    let reply = server.send("otlp_http", post("/v1/traces", "application/x-protobuf", body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

/// Now, in Unix nanoseconds.
pub fn now_unix_nano() -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    u64::try_from(now.as_nanos()).unwrap()
}

/// The small shop's traces start an hour ago, inside every API's default window.
pub fn an_hour_ago() -> u64 {
    now_unix_nano() - 3_600_000_000_000
}

/// Percent-encodes a query parameter value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
