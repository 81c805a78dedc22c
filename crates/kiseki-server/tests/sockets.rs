//! The real server on real sockets: every listener bound by `kiseki_server::start` on an
//! ephemeral port of 127.0.0.1, fed raw garbage over TCP and UDP, must keep answering real
//! requests (HTTP/1.1 written by hand, gRPC over HTTP/2, Jaeger agent datagrams) and then shut
//! down.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use common::{GrpcReply, MetricsText, Reply, capture_for, expected_traces, localhost, read_spans};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kiseki_server::{BodyLimits, ListenConfig, Server, ServerConfig};
use kiseki_store::MemoryStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, sleep, timeout};

/// How long anything here may take before the test gives up; only reached when something hangs.
const DEADLINE: Duration = Duration::from_secs(20);

const TCP_LISTENERS: [&str; 7] =
    ["otlp_grpc", "otlp_http", "zipkin", "jaeger_http", "jaeger_grpc", "datadog", "query"];
const UDP_LISTENERS: [&str; 2] = ["jaeger_compact", "jaeger_binary"];

async fn start() -> Server {
    let config = ServerConfig {
        listen: ListenConfig::ephemeral(localhost()),
        limits: BodyLimits::default(),
        query: Default::default(),
    };
    let server = kiseki_server::start(config, Arc::new(MemoryStore::new(100_000)))
        .await
        .expect("the server starts on ephemeral ports");
    for name in TCP_LISTENERS.iter().chain(&UDP_LISTENERS) {
        let addr = server.addr(name).unwrap_or_else(|| panic!("{name} is bound"));
        assert_ne!(addr.port(), 0, "{name} has a real port");
    }
    server
}

fn addr(server: &Server, name: &str) -> SocketAddr {
    server.addr(name).unwrap_or_else(|| panic!("{name} is bound"))
}

/// Bytes no client sends, from a seeded generator.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// Writes `bytes`, optionally closes the writing half, and reads until the server closes the
/// connection (or the deadline passes, which fails the test). Returns what the server wrote.
async fn write_and_drain(what: &str, addr: SocketAddr, bytes: &[u8], close_write: bool) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    // The server may close the connection before it has read everything; that is its right.
    let _ = stream.write_all(bytes).await;
    if close_write {
        let _ = stream.shutdown().await;
    }
    let mut answer = Vec::new();
    let read = timeout(DEADLINE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "{what}: the server kept a garbage connection open: {answer:?}");
    answer
}

const GOAWAY: u8 = 0x7;

/// The types of the HTTP/2 frames in what a server wrote, as far as they are complete.
fn h2_frame_types(mut bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while let [a, b, c, kind, _flags, _, _, _, _, rest @ ..] = bytes {
        let len = u32::from_be_bytes([0, *a, *b, *c]) as usize;
        types.push(*kind);
        bytes = rest.get(len..).unwrap_or_default();
    }
    types
}

/// One HTTP/1.1 request written by hand on its own connection; returns the status code and the
/// whole response.
async fn http1(addr: SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut request = head.replace('\n', "\r\n").into_bytes();
    request.extend_from_slice(body);
    let response = timeout(DEADLINE, async {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&request).await.expect("write the request");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read the response");
        response
    })
    .await
    .unwrap_or_else(|_| panic!("{addr}: no response to {head:?}"));
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("{addr}: not an HTTP/1.1 response: {text:?}"));
    (status, text)
}

/// A body in HTTP/1.1 chunked transfer coding, in chunks of `size` bytes.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

async fn metrics(server: &Server) -> MetricsText {
    let (status, text) = http1(
        addr(server, "query"),
        "GET /metrics HTTP/1.1\nHost: kiseki\nConnection: close\n\n",
        b"",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    MetricsText(text)
}

/// One unary gRPC call over a fresh cleartext HTTP/2 connection, as gRPC clients make it.
async fn grpc_call(addr: SocketAddr, request: Request<Body>) -> GrpcReply {
    timeout(DEADLINE, async {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("HTTP/2 handshake");
        let driver = tokio::spawn(connection);
        let (mut parts, body) = request.into_parts();
        parts.uri = format!("http://{addr}{}", parts.uri.path()).parse().expect("uri");
        let body = body.collect().await.expect("request body").to_bytes();
        let response = sender
            .send_request(Request::from_parts(parts, http_body_util::Full::<Bytes>::new(body)))
            .await
            .expect("gRPC response");
        let status = response.status();
        let headers = response.headers().clone();
        let collected = response.into_body().collect().await.expect("response body");
        let trailers = collected.trailers().cloned().unwrap_or_default();
        drop(sender);
        let _ = driver.await;
        GrpcReply::from(Reply { status, headers, trailers, body: collected.to_bytes() })
    })
    .await
    .unwrap_or_else(|_| panic!("{addr}: the gRPC call did not finish"))
}

/// Polls `GET /api/traces/{id}` until the trace has `spans` spans.
async fn wait_for_trace(server: &Server, trace_id: &str, spans: usize) {
    let query = addr(server, "query");
    let head = format!("GET /api/traces/{trace_id} HTTP/1.1\nHost: kiseki\nConnection: close\n\n");
    let give_up = Instant::now() + DEADLINE;
    loop {
        let (status, text) = http1(query, &head, b"").await;
        if status == 200 {
            let body = text.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default();
            let json: serde_json::Value = serde_json::from_str(body).expect("trace JSON");
            if read_spans(&json).len() >= spans {
                return;
            }
        }
        assert!(Instant::now() < give_up, "trace {trace_id} did not appear: {status} {text}");
        sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `/metrics` until `metric` for `receiver` reaches `at_least`.
async fn wait_for_count(server: &Server, metric: &str, receiver: &str, at_least: u64) {
    let give_up = Instant::now() + DEADLINE;
    loop {
        let metrics = metrics(server).await;
        if metrics.sum(metric, &[("receiver", receiver)]) >= at_least {
            return;
        }
        assert!(Instant::now() < give_up, "{metric} for {receiver} stayed below {at_least}");
        sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_survives_garbage_on_every_socket_and_shuts_down() {
    let server = start().await;

    // Garbage over TCP, to every listener.
    for (i, name) in TCP_LISTENERS.iter().enumerate() {
        let addr = addr(&server, name);
        for (kind, bytes) in [("random bytes", random_bytes(i as u64, 1024)), ("zeros", vec![0; 5])]
        {
            let answer = write_and_drain(&format!("{name} {kind}"), addr, &bytes, true).await;
            assert!(answer.starts_with(b"HTTP/1.1 400 "), "{name} {kind}: {answer:?}");
        }
        // HTTP/2 from a client that does not open with SETTINGS: a connection error.
        let mut junk = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        junk.extend_from_slice(&[0, 0, 4, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
        junk.extend(random_bytes(i as u64 + 50, 100));
        let answer = write_and_drain(&format!("{name} h2 junk"), addr, &junk, true).await;
        assert!(h2_frame_types(&answer).contains(&GOAWAY), "{name} h2 junk: {answer:?}");
        // Half a request, then the client goes away.
        let half = "POST /v1/traces HTTP/1.1\r\nHost: kiseki\r\nContent-Type: application/json\r\n\
                    Content-Length: 100000\r\n\r\n{\"resourceSpans\": [";
        write_and_drain(&format!("{name} half a body"), addr, half.as_bytes(), true).await;
        let head = "POST /api/v2/spans HTTP/1.1\r\nHost: kiseki\r\nContent-Le";
        write_and_drain(&format!("{name} half a head"), addr, head.as_bytes(), true).await;
        // Connected, then closed without a byte.
        drop(TcpStream::connect(addr).await.expect("connect"));
    }

    // Garbage over UDP, to both agent ports: dropped and counted.
    let udp = UdpSocket::bind((localhost(), 0)).await.expect("bind a client socket");
    for name in UDP_LISTENERS {
        for seed in 0..5 {
            let datagram = random_bytes(100 + seed, 200 + seed as usize * 300);
            udp.send_to(&datagram, addr(&server, name)).await.expect("send a datagram");
        }
        udp.send_to(b"", addr(&server, name)).await.expect("send an empty datagram");
        wait_for_count(&server, "kiseki_receiver_requests_rejected_total", name, 6).await;
    }

    // OTLP/HTTP, written by hand.
    let otlp = capture_for("python-otel-otlp-http", "otlp_http");
    let head = format!(
        "POST /v1/traces HTTP/1.1\nHost: kiseki\nContent-Type: application/x-protobuf\n\
         Content-Length: {}\nConnection: close\n\n",
        otlp.body.len()
    );
    let (status, text) = http1(addr(&server, "otlp_http"), &head, &otlp.body).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.to_ascii_lowercase().contains("content-type: application/x-protobuf"), "{text}");

    // Zipkin, chunked as the Node tracers send it.
    let zipkin = capture_for("node-zipkin-js-v2-json", "zipkin");
    let head = "POST /api/v2/spans HTTP/1.1\nHost: kiseki\nContent-Type: application/json\n\
                Transfer-Encoding: chunked\nConnection: close\n\n";
    let (status, text) = http1(addr(&server, "zipkin"), head, &chunked(&zipkin.body, 1000)).await;
    assert_eq!(status, 202, "{text}");

    // A bad request over a real connection still gets its 4xx, not a dropped connection.
    let head = "POST /v1/traces HTTP/1.1\nHost: kiseki\nContent-Type: text/html\n\
                Content-Length: 2\nConnection: close\n\n";
    let (status, text) = http1(addr(&server, "otlp_http"), head, b"<>").await;
    assert_eq!(status, 415, "{text}");

    // gRPC over HTTP/2, both services.
    for (listener, folder) in
        [("otlp_grpc", "node-otel-otlp-grpc"), ("jaeger_grpc", "python-otel-jaeger-grpc")]
    {
        let capture = capture_for(folder, listener);
        let reply = grpc_call(addr(&server, listener), capture.grpc_request(false)).await;
        assert_eq!(reply.http_status, StatusCode::OK, "{listener}");
        assert_eq!(reply.code, Some(0), "{listener}: {}", reply.message);
        let garbage = common::grpc_request(&capture.path, &random_bytes(9, 300), false);
        let reply = grpc_call(addr(&server, listener), garbage).await;
        assert_eq!(reply.code, Some(3), "{listener} garbage: {}", reply.message);
    }

    // Valid agent datagrams: their traces appear.
    for (listener, folder) in
        [("jaeger_compact", "python-jaeger-client"), ("jaeger_binary", "node-jaeger-client-udp")]
    {
        let capture = capture_for(folder, listener);
        udp.send_to(&capture.body, addr(&server, listener)).await.expect("send a datagram");
        for trace in expected_traces(folder) {
            wait_for_trace(&server, &trace.trace_id, trace.spans.len()).await;
        }
    }

    // Everything that arrived is counted.
    let metrics = metrics(&server).await;
    for receiver in
        ["otlp_http", "zipkin", "otlp_grpc", "jaeger_grpc", "jaeger_compact", "jaeger_binary"]
    {
        assert!(
            metrics.sum("kiseki_receiver_spans_total", &[("receiver", receiver)]) > 0,
            "no spans counted for {receiver}:\n{}",
            metrics.0
        );
    }
    for receiver in ["otlp_grpc", "jaeger_grpc"] {
        assert_eq!(
            metrics.sum(
                "kiseki_receiver_requests_rejected_total",
                &[("receiver", receiver), ("reason", "malformed")]
            ),
            1,
            "the garbage gRPC call to {receiver}"
        );
    }
    for receiver in UDP_LISTENERS {
        assert_eq!(
            metrics.sum(
                "kiseki_receiver_requests_rejected_total",
                &[("receiver", receiver), ("reason", "malformed")]
            ),
            6,
            "garbage datagrams to {receiver}"
        );
    }

    let otlp_http = addr(&server, "otlp_http");
    let udp_port = addr(&server, "jaeger_compact");
    timeout(DEADLINE, server.shutdown()).await.expect("shutdown completes");
    assert!(TcpStream::connect(otlp_http).await.is_err(), "nothing listens after shutdown");
    // The UDP port is free again.
    UdpSocket::bind(udp_port).await.expect("the agent port is released");
}

/// A client that connects and sends nothing must not keep the server from stopping forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_with_an_idle_connection_open() {
    let server = start().await;
    let idle = TcpStream::connect(addr(&server, "otlp_http")).await.expect("connect");
    // A finished request on a kept-alive connection, which then stays idle.
    let mut kept = TcpStream::connect(addr(&server, "query")).await.expect("connect");
    kept.write_all(b"GET /metrics HTTP/1.1\r\nHost: kiseki\r\n\r\n").await.expect("write");
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.expect("a response");
    assert_eq!(&first, b"HTTP/1.1 200");
    timeout(DEADLINE, server.shutdown()).await.expect("shutdown completes");
    drop((idle, kept));
}

/// `Server::shutdown` lets requests in flight finish; a client that stalls in the middle of one
/// (half a head, half a body, half an HTTP/2 frame) must not hold the process up forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_completes_while_clients_stall_mid_request() {
    let server = start().await;
    let stalls: [&[u8]; 3] = [
        b"POST /v1/traces HTTP/1.1\r\nHost: kiseki\r\n",
        b"POST /v1/traces HTTP/1.1\r\nHost: kiseki\r\nContent-Type: application/json\r\n\
          Content-Length: 100000\r\n\r\n{",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x01",
    ];
    let mut stalled = Vec::new();
    for bytes in stalls {
        let mut stream = TcpStream::connect(addr(&server, "otlp_http")).await.expect("connect");
        stream.write_all(bytes).await.expect("write");
        stalled.push(stream);
    }
    // The server has the stalled requests before it is asked to stop.
    let (status, _) =
        http1(addr(&server, "query"), "GET /metrics HTTP/1.1\nHost: k\nConnection: close\n\n", b"")
            .await;
    assert_eq!(status, 200);
    let grace = Duration::from_secs(30);
    timeout(grace, server.shutdown()).await.expect("shutdown completes within a grace period");
    drop(stalled);
}
