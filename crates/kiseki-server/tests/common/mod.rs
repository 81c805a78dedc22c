//! What the server's integration tests share: the whole app in process (routers and datagram
//! handlers, no sockets), requests in the shapes tracers send, captured payloads, traces read back
//! through the query API and counters read from `/metrics`.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::BodyExt;
use kiseki_server::receivers::{DatagramHandler, Listener};
use kiseki_server::{BodyLimits, ListenConfig, ServerConfig};
use kiseki_store::MemoryStore;
use serde_json::Value;
use tower::ServiceExt;

/// The payloads captured from real tracer libraries, one folder per emitter.
pub const TRACERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tracers");

/// Every receiver and the query API of one server over a fresh memory store, driven in process.
pub struct TestServer {
    routers: BTreeMap<&'static str, Router>,
    datagrams: BTreeMap<&'static str, Arc<dyn DatagramHandler>>,
}

impl TestServer {
    pub fn new() -> Self {
        Self::with_limits(BodyLimits::default())
    }

    pub fn with_limits(limits: BodyLimits) -> Self {
        let config = ServerConfig {
            listen: ListenConfig::ephemeral(localhost()),
            limits,
            query: Default::default(),
        };
        let app = kiseki_server::app(&config, Arc::new(MemoryStore::new(1_000_000)));
        let mut routers = BTreeMap::new();
        let mut datagrams = BTreeMap::new();
        for listener in app.listeners {
            match listener {
                Listener::Tcp { name, router, .. } => {
                    routers.insert(name, router);
                }
                Listener::Udp { name, handler, .. } => {
                    datagrams.insert(name, handler);
                }
            }
        }
        Self { routers, datagrams }
    }

    fn router(&self, listener: &str) -> Router {
        self.routers.get(listener).unwrap_or_else(|| panic!("no TCP listener {listener}")).clone()
    }

    /// One HTTP request to a listener's router.
    pub async fn send(&self, listener: &str, request: Request<Body>) -> Reply {
        let response =
            self.router(listener).oneshot(request).await.expect("routers are infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let collected = response.into_body().collect().await.expect("response body");
        let trailers = collected.trailers().cloned().unwrap_or_default();
        Reply { status, headers, trailers, body: collected.to_bytes() }
    }

    /// One datagram to a UDP listener; it is handled (decoded and stored) before this returns.
    pub async fn datagram(&self, listener: &str, payload: &[u8]) {
        let handler =
            self.datagrams.get(listener).unwrap_or_else(|| panic!("no UDP listener {listener}"));
        handler.datagram(payload).await;
    }

    /// One unary gRPC call; see [`grpc_request`] for building it.
    pub async fn grpc(&self, listener: &str, request: Request<Body>) -> GrpcReply {
        GrpcReply::from(self.send(listener, request).await)
    }

    pub async fn metrics(&self) -> MetricsText {
        let reply = self.send("query", get("/metrics")).await;
        assert_eq!(reply.status, StatusCode::OK, "GET /metrics: {}", reply.text());
        MetricsText(reply.text())
    }

    /// `GET /api/traces/{id}`: the spans of one trace, or `None` when the trace is unknown.
    pub async fn trace(&self, trace_id: &str) -> Option<Vec<ReadSpan>> {
        let reply = self.send("query", get(&format!("/api/traces/{trace_id}"))).await;
        if reply.status == StatusCode::NOT_FOUND {
            return None;
        }
        assert_eq!(reply.status, StatusCode::OK, "GET trace {trace_id}: {}", reply.text());
        Some(read_spans(&reply.json()))
    }
}

pub fn localhost() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// A response, with its body and trailers collected.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub trailers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// The outcome of a unary gRPC call.
#[derive(Debug)]
pub struct GrpcReply {
    pub http_status: StatusCode,
    /// `grpc-status` from the trailers, or from the headers of a trailers-only response.
    pub code: Option<i32>,
    /// `grpc-message`, percent-decoded.
    pub message: String,
    /// The response message without its frame header, when there is one.
    pub message_bytes: Bytes,
}

impl From<Reply> for GrpcReply {
    fn from(reply: Reply) -> Self {
        let field = |name: &str| {
            reply
                .trailers
                .get(name)
                .or_else(|| reply.headers.get(name))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let code = field("grpc-status").and_then(|v| v.parse().ok());
        let message = field("grpc-message").map(|m| percent_decode(&m)).unwrap_or_default();
        let message_bytes = match &reply.body[..] {
            [0, a, b, c, d, rest @ ..] => {
                let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
                assert_eq!(len, rest.len(), "one response frame");
                Bytes::copy_from_slice(rest)
            }
            _ => Bytes::new(),
        };
        Self { http_status: reply.status, code, message, message_bytes }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("request")
}

/// A request with a body and, when given, a content type.
pub fn request(
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(content_type) = content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    builder.body(Body::from(body.into())).expect("request")
}

pub fn post(path: &str, content_type: &str, body: impl Into<Bytes>) -> Request<Body> {
    request("POST", path, Some(content_type), body)
}

/// The 5-byte gRPC frame header (compressed flag, big-endian length), then the message.
pub fn grpc_frame(message: &[u8], compressed: bool) -> Vec<u8> {
    let mut frame = Vec::with_capacity(message.len() + 5);
    frame.push(u8::from(compressed));
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    frame
}

/// A unary gRPC call as gRPC clients send it; `gzip` compresses the message.
pub fn grpc_request(path: &str, message: &[u8], gzip_message: bool) -> Request<Body> {
    let frame =
        if gzip_message { grpc_frame(&gzip(message), true) } else { grpc_frame(message, false) };
    grpc_request_raw(path, frame, gzip_message)
}

/// A gRPC call whose body is given as is, frame header included.
pub fn grpc_request_raw(path: &str, body: Vec<u8>, gzip_encoding: bool) -> Request<Body> {
    let mut builder = Request::post(path)
        .version(Version::HTTP_2)
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header(http::header::TE, "trailers");
    if gzip_encoding {
        builder = builder.header("grpc-encoding", "gzip");
    }
    builder.body(Body::from(body)).expect("request")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

/// The text of `/metrics`.
pub struct MetricsText(pub String);

impl MetricsText {
    /// The sum of every sample of `metric` whose labels include all of `labels`.
    pub fn sum(&self, metric: &str, labels: &[(&str, &str)]) -> u64 {
        self.samples(metric)
            .filter(|(sample_labels, _)| {
                labels.iter().all(|(k, v)| sample_labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .map(|(_, value)| value)
            .sum()
    }

    /// Every sample of `metric` as (labels, value).
    pub fn samples<'a>(
        &'a self,
        metric: &'a str,
    ) -> impl Iterator<Item = (Vec<(String, String)>, u64)> + 'a {
        self.0.lines().filter_map(move |line| {
            let rest = line.strip_prefix(metric)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => {
                    let (labels, value) = rest.split_once("} ")?;
                    (parse_labels(labels), value)
                }
                None => (Vec::new(), rest.strip_prefix(' ')?),
            };
            let value: f64 = value.trim().parse().ok()?;
            Some((labels, value as u64))
        })
    }

    /// `kiseki_receiver_requests_rejected_total` by (receiver, reason), without zero counts.
    pub fn rejections(&self) -> BTreeMap<(String, String), u64> {
        let mut map = BTreeMap::new();
        for (labels, value) in self.samples("kiseki_receiver_requests_rejected_total") {
            let label = |key: &str| {
                labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
            };
            if value > 0 {
                *map.entry((label("receiver"), label("reason"))).or_default() += value;
            }
        }
        map
    }
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    text.split("\",")
        .filter_map(|pair| {
            let (key, value) = pair.split_once("=\"")?;
            Some((key.trim().to_owned(), value.trim_end_matches('"').to_owned()))
        })
        .collect()
}

/// A span as `GET /api/traces/{id}` shows it: what the interop checks compare.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadSpan {
    pub trace_id: String,
    pub span_id: String,
    /// The first `CHILD_OF` reference, as Jaeger's UI reads the parent.
    pub parent_span_id: Option<String>,
    pub name: String,
    pub service: String,
    /// The `error` tag is `true`.
    pub error: bool,
}

/// The spans of the first trace of a Jaeger query API response.
pub fn read_spans(response: &Value) -> Vec<ReadSpan> {
    let trace = &response["data"][0];
    let processes = &trace["processes"];
    let spans = trace["spans"].as_array().expect("spans array");
    spans
        .iter()
        .map(|span| {
            let text = |key: &str| span[key].as_str().unwrap_or_default().to_owned();
            let parent = span["references"].as_array().and_then(|refs| {
                refs.iter()
                    .find(|r| r["refType"] == "CHILD_OF")
                    .and_then(|r| r["spanID"].as_str())
                    .map(str::to_owned)
            });
            let error = span["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().any(|t| t["key"] == "error" && t["value"] == true));
            let process = span["processID"].as_str().unwrap_or_default();
            ReadSpan {
                trace_id: text("traceID"),
                span_id: text("spanID"),
                parent_span_id: parent,
                name: text("operationName"),
                service: processes[process]["serviceName"].as_str().unwrap_or_default().to_owned(),
                error,
            }
        })
        .collect()
}

/// One request a tracer sent, as `interop/capture.py` recorded it.
#[derive(Debug, Clone)]
pub struct Capture {
    pub file: PathBuf,
    pub transport: String,
    pub port: u16,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names as sent, in the order the recording lists them.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Capture {
    /// The listener a tracer reaches on this capture's port.
    pub fn listener(&self) -> &'static str {
        match (self.transport.as_str(), self.port) {
            ("http", 4318) => "otlp_http",
            ("grpc", 4317) => "otlp_grpc",
            ("http", 9411) => "zipkin",
            ("http", 14268) => "jaeger_http",
            ("grpc", 14250) => "jaeger_grpc",
            ("http", 8126) => "datadog",
            ("udp", 6831) => "jaeger_compact",
            ("udp", 6832) => "jaeger_binary",
            (transport, port) => panic!("{}: no listener for {transport} {port}", self.name()),
        }
    }

    pub fn name(&self) -> String {
        self.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// Whether this request carries spans, rather than tracer telemetry or an `/info` poll.
    pub fn carries_spans(&self) -> bool {
        match self.transport.as_str() {
            "udp" | "grpc" => true,
            _ => matches!(
                self.path.as_str(),
                "/v1/traces"
                    | "/api/v1/spans"
                    | "/api/v2/spans"
                    | "/api/traces"
                    | "/v0.3/traces"
                    | "/v0.4/traces"
                    | "/v0.5/traces"
                    | "/v0.7/traces"
            ),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The recorded HTTP request. Headers that described the original connection or framing
    /// (`Host`, `Connection`, `Transfer-Encoding`, `Content-Length`) are left out: the body is
    /// handed over whole.
    pub fn http_request(&self) -> Request<Body> {
        let uri = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut builder = Request::builder().method(self.method.as_str()).uri(uri);
        for (name, value) in &self.headers {
            if !is_connection_header(name) {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        builder.body(Body::from(self.body.clone())).expect("recorded request")
    }

    /// The recorded gRPC call: the message framed again, with the recorded metadata.
    pub fn grpc_request(&self, gzip_message: bool) -> Request<Body> {
        let mut request = grpc_request(&self.path, &self.body, gzip_message);
        for (name, value) in &self.headers {
            let name = http::HeaderName::try_from(name.as_str()).expect("header name");
            // A gRPC client's own accept-encoding would not change what it sends.
            request.headers_mut().insert(name, value.parse().expect("header value"));
        }
        request
    }
}

pub fn is_connection_header(name: &str) -> bool {
    ["host", "connection", "keep-alive", "transfer-encoding", "content-length", "te", "upgrade"]
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop))
}

/// Every capture of a folder, in capture order.
pub fn captures(folder: &str) -> Vec<Capture> {
    let dir = Path::new(TRACERS).join(folder);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| !path.ends_with("expected.json"))
        .collect();
    files.sort();
    files.into_iter().map(|file| read_capture(&file)).collect()
}

fn read_capture(file: &Path) -> Capture {
    let meta: Value = serde_json::from_slice(&fs::read(file).expect("capture metadata"))
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let text = |key: &str| meta[key].as_str().unwrap_or_default().to_owned();
    let headers = meta["headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let body = fs::read(file.with_extension("body")).expect("capture body");
    assert_eq!(
        meta["body_bytes"].as_u64(),
        Some(body.len() as u64),
        "{}: body length as recorded",
        file.display()
    );
    Capture {
        file: file.to_owned(),
        transport: text("transport"),
        port: meta["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("port"),
        method: text("method"),
        path: text("path"),
        query: text("query"),
        headers,
        body,
    }
}

/// The first capture of a folder that goes to `listener`.
pub fn capture_for(folder: &str, listener: &str) -> Capture {
    captures(folder)
        .into_iter()
        .find(|c| c.carries_spans() && c.listener() == listener)
        .unwrap_or_else(|| panic!("{folder} has no capture for {listener}"))
}

/// What an emitter says it sent (`expected.json`).
#[derive(Debug, Clone)]
pub struct ExpectedTrace {
    pub trace_id: String,
    pub spans: Vec<ExpectedSpan>,
}

#[derive(Debug, Clone)]
pub struct ExpectedSpan {
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub name: String,
    pub service: String,
    pub error: bool,
}

pub fn expected_traces(folder: &str) -> Vec<ExpectedTrace> {
    let path = Path::new(TRACERS).join(folder).join("expected.json");
    let expected: Value = serde_json::from_slice(&fs::read(&path).expect("expected.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = |v: &Value| v.as_str().expect("a string").to_owned();
    expected["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|trace| ExpectedTrace {
            trace_id: text(&trace["trace_id"]),
            spans: trace["spans"]
                .as_array()
                .expect("spans")
                .iter()
                .map(|span| ExpectedSpan {
                    span_id: text(&span["span_id"]),
                    parent_span_id: span["parent_span_id"].as_str().map(str::to_owned),
                    name: text(&span["name"]),
                    service: text(&span["service"]),
                    error: span["error"].as_bool().expect("error flag"),
                })
                .collect(),
        })
        .collect()
}

/// Two trace ids in hex are the same number (Jaeger writes 64-bit ones with 16 digits).
pub fn same_trace_id(a: &str, b: &str) -> bool {
    matches!((u128::from_str_radix(a, 16), u128::from_str_radix(b, 16)), (Ok(a), Ok(b)) if a == b)
}

/// Compares a trace read back with what the emitter sent, as `interop/live_test.py` does, and
/// returns what differs. A span id the emitter reported twice is a Zipkin shared span: its server
/// half reads back under a new id whose parent is the shared id, and the children of the shared
/// id may hang under the server half. `fold_case` compares names and services ignoring case
/// (zipkin-js lower-cases them).
pub fn compare_trace(want: &ExpectedTrace, got: &[ReadSpan], fold_case: bool) -> Vec<String> {
    let fold = |s: &str| if fold_case { s.to_lowercase() } else { s.to_owned() };
    let mut problems = Vec::new();
    if got.len() != want.spans.len() {
        problems.push(format!(
            "expected {} spans, read back {}: {:?}",
            want.spans.len(),
            got.len(),
            got.iter().map(|s| (&s.span_id, &s.name)).collect::<Vec<_>>()
        ));
    }
    for span in got {
        if !same_trace_id(&span.trace_id, &want.trace_id) {
            problems.push(format!("span {} has trace id {}", span.span_id, span.trace_id));
        }
    }
    let reported: Vec<&str> = want.spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut shared: Vec<&str> = reported
        .iter()
        .copied()
        .filter(|id| reported.iter().filter(|r| *r == id).count() > 1)
        .collect();
    shared.sort_unstable();
    shared.dedup();
    let mut server_half: BTreeMap<&str, &ReadSpan> = BTreeMap::new();
    for &sid in &shared {
        let servers: Vec<&ReadSpan> = got
            .iter()
            .filter(|s| {
                s.parent_span_id.as_deref() == Some(sid)
                    && s.span_id != sid
                    && !reported.contains(&s.span_id.as_str())
            })
            .collect();
        match servers[..] {
            [server] => {
                server_half.insert(sid, server);
            }
            _ => problems.push(format!(
                "shared span {sid}: expected one server half, found {}",
                servers.len()
            )),
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for span in &want.spans {
        let sid = span.span_id.as_str();
        let is_server_half = seen.contains(&sid);
        let found = if is_server_half {
            match server_half.get(sid) {
                Some(found) => *found,
                None => continue,
            }
        } else {
            seen.push(sid);
            match got.iter().find(|s| s.span_id == sid && fold(&s.name) == fold(&span.name)) {
                Some(found) => found,
                None => {
                    let names: Vec<&str> =
                        got.iter().filter(|s| s.span_id == sid).map(|s| s.name.as_str()).collect();
                    problems.push(format!("span {sid} {:?} not found (have {names:?})", span.name));
                    continue;
                }
            }
        };
        let mut allowed_parents: Vec<Option<&str>> =
            if is_server_half { vec![Some(sid)] } else { vec![span.parent_span_id.as_deref()] };
        if let Some(parent) = span.parent_span_id.as_deref()
            && let Some(server) = server_half.get(parent)
        {
            allowed_parents.push(Some(server.span_id.as_str()));
        }
        if !allowed_parents.contains(&found.parent_span_id.as_deref()) {
            problems.push(format!(
                "span {sid} {:?}: parent is {:?}, expected {:?}",
                span.name, found.parent_span_id, span.parent_span_id
            ));
        }
        if fold(&found.service) != fold(&span.service) {
            problems.push(format!(
                "span {sid} {:?}: service is {:?}, expected {:?}",
                span.name, found.service, span.service
            ));
        }
        if found.error != span.error {
            problems.push(format!(
                "span {sid} {:?}: error is {}, expected {}",
                span.name, found.error, span.error
            ));
        }
    }
    problems
}
