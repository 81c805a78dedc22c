//! The load generator against the real server on 127.0.0.1: every protocol's spans arrive in
//! the store, a throttling server is counted and waited for, and `kiseki serve --demo` shows a
//! live trace through its own OTLP listener.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiseki::loadgen::{self, Class, Config, Outcome, Protocol, ResponseHook, Target};
use kiseki_model::{Span, TraceId};
use kiseki_server::{BodyLimits, ListenConfig, Server, ServerConfig};
use kiseki_store::{MemoryStore, Operation, Store, StoreError, TraceQuery, TraceSummary};

fn localhost() -> IpAddr {
    IpAddr::from([127, 0, 0, 1])
}

async fn start_server(store: Arc<dyn Store>) -> Server {
    let config = ServerConfig {
        listen: ListenConfig::ephemeral(localhost()),
        limits: BodyLimits::default(),
        query: Default::default(),
    };
    kiseki_server::start(config, store).await.expect("the server starts on ephemeral ports")
}

fn config_for(server: &Server, protocol: Protocol) -> Config {
    let addr = server.addr(protocol.listener()).expect("the listener is bound");
    Config::new(protocol, Target::from(addr))
}

/// Collects the trace ids of acknowledged requests, and every outcome's class in order.
#[derive(Default)]
struct Seen {
    acknowledged_traces: Mutex<HashSet<TraceId>>,
    classes: Mutex<Vec<Class>>,
}

impl Seen {
    fn hook(self: &Arc<Self>) -> ResponseHook {
        let seen = Arc::clone(self);
        Arc::new(move |outcome: &Outcome, spans: &[Span]| {
            seen.classes.lock().expect("not poisoned").push(outcome.class);
            if outcome.class == Class::Acknowledged {
                seen.acknowledged_traces
                    .lock()
                    .expect("not poisoned")
                    .extend(spans.iter().map(|s| s.trace_id));
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_delivers_every_span_to_the_store() {
    let store = Arc::new(MemoryStore::new(1_000_000));
    let server = start_server(store.clone()).await;
    for (index, protocol) in Protocol::ALL.into_iter().enumerate() {
        let mut config = config_for(&server, protocol);
        config.spans = Some(3_000);
        config.batch_spans = 200;
        config.concurrency = 3;
        config.seed = 100 + index as u64;
        config.gzip = index % 2 == 0;
        let seen = Arc::new(Seen::default());
        let report = loadgen::run(config, Some(seen.hook())).await.unwrap();
        let tally = &report.tally;
        assert!(tally.sent().spans >= 3_000, "{protocol:?}: {report}");
        assert_eq!(tally.get(Class::Acknowledged), tally.sent(), "{protocol:?}: {report}");
        assert_eq!(tally.partially_rejected_spans, 0, "{protocol:?}");
        assert_eq!(seen.classes.lock().unwrap().len() as u64, tally.sent().requests);

        let traces = seen.acknowledged_traces.lock().unwrap().clone();
        let mut stored = 0;
        for trace_id in &traces {
            stored += store.trace(*trace_id).await.unwrap().len() as u64;
        }
        assert_eq!(stored, tally.acknowledged_spans(), "{protocol:?}: stored spans");
    }
    server.shutdown().await;
}

/// Refuses the first appends as overloaded, then keeps spans in memory.
struct ThrottlingStore {
    refusals_left: AtomicU64,
    inner: MemoryStore,
}

#[async_trait::async_trait]
impl Store for ThrottlingStore {
    async fn append(&self, spans: Vec<Span>) -> Result<(), StoreError> {
        let refuse = self
            .refusals_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok();
        if refuse { Err(StoreError::Overloaded) } else { self.inner.append(spans).await }
    }

    async fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StoreError> {
        self.inner.trace(trace_id).await
    }

    async fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        self.inner.search(query).await
    }

    async fn services(&self) -> Result<Vec<String>, StoreError> {
        self.inner.services().await
    }

    async fn operations(&self, service: &str) -> Result<Vec<Operation>, StoreError> {
        self.inner.operations(service).await
    }

    async fn attribute_keys(&self) -> Result<Vec<String>, StoreError> {
        self.inner.attribute_keys().await
    }

    async fn attribute_values(&self, key: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.inner.attribute_values(key, limit).await
    }

    async fn delete_before(&self, cutoff_unix_nano: u64) -> Result<(), StoreError> {
        self.inner.delete_before(cutoff_unix_nano).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_counted_and_every_sender_waits_as_asked() {
    for protocol in [Protocol::OtlpHttp, Protocol::OtlpGrpc] {
        let store =
            ThrottlingStore { refusals_left: AtomicU64::new(2), inner: MemoryStore::new(100_000) };
        let server = start_server(Arc::new(store)).await;
        let mut config = config_for(&server, protocol);
        config.spans = Some(2_000);
        config.batch_spans = 400;
        config.concurrency = 1;
        let seen = Arc::new(Seen::default());
        let report = loadgen::run(config, Some(seen.hook())).await.unwrap();
        let tally = &report.tally;
        assert_eq!(tally.get(Class::Throttled).requests, 2, "{protocol:?}: {report}");
        assert!(tally.get(Class::Acknowledged).requests >= 2, "{protocol:?}: {report}");
        assert_eq!(
            tally.sent().spans,
            tally.get(Class::Acknowledged).spans + tally.get(Class::Throttled).spans,
            "{protocol:?}: nothing else happened"
        );
        let classes = seen.classes.lock().unwrap().clone();
        assert_eq!(&classes[..2], &[Class::Throttled, Class::Throttled], "{protocol:?}");
        // kiseki answers 429 with Retry-After: 1; its gRPC status says no time, and the load
        // generator waits its default second. One sender, two refusals: two seconds held.
        assert_eq!(tally.backoff, Duration::from_secs(2), "{protocol:?}: {report}");
        server.shutdown().await;
    }
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error_and_acknowledges_nothing() {
    // A port that was just free: nothing listens on it.
    let port = std::net::TcpListener::bind((localhost(), 0)).unwrap().local_addr().unwrap().port();
    let mut config =
        Config::new(Protocol::OtlpHttp, Target::from(SocketAddr::new(localhost(), port)));
    config.spans = Some(1);
    let report = loadgen::run(config, None).await.unwrap();
    assert_eq!(report.tally.get(Class::TransportError).requests, 1, "{report}");
    assert_eq!(report.tally.get(Class::Acknowledged).requests, 0);
}

#[test]
fn invalid_configurations_are_refused() {
    let target = Target::parse("127.0.0.1").unwrap();
    let mut config = Config::new(Protocol::OtlpHttp, target);
    config.concurrency = 0;
    assert!(loadgen::start(config.clone(), None).is_err());
    config.concurrency = 1;
    config.pace = loadgen::Pace::SpansPerSecond(f64::NAN);
    assert!(loadgen::start(config, None).is_err());
}

/// `kiseki serve --demo`, the README's run command, on ports the system picks.
struct DemoServer(Child);

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_demo_shows_a_live_trace_that_came_in_over_otlp() {
    let data_dir = std::env::temp_dir().join(format!("kiseki-demo-test-{}", std::process::id()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiseki"));
    command.args(["serve", "--demo", "--demo-traces-per-second", "20", "--host", "127.0.0.1"]);
    // The demo runs on the default store, the embedded one, in a directory of its own.
    command.arg("--data-dir").arg(&data_dir);
    for flag in [
        "--otlp-grpc-addr",
        "--otlp-http-addr",
        "--zipkin-addr",
        "--jaeger-compact-addr",
        "--jaeger-binary-addr",
        "--jaeger-http-addr",
        "--jaeger-grpc-addr",
        "--datadog-addr",
        "--query-addr",
    ] {
        command.args([flag, "0"]);
    }
    command.env("NO_COLOR", "1").env("RUST_LOG", "info").stdout(Stdio::piped());
    let mut server = DemoServer(command.spawn().expect("kiseki starts"));
    let stdout = server.0.stdout.take().expect("stdout is piped");

    // The log names the web UI, the demo's way in and a trace to read in the UI; the trace comes
    // within a second or so.
    let mut reader = BufReader::new(stdout);
    let (lines, trace_url) = {
        let mut lines = Vec::new();
        let mut url = None;
        for line in reader.by_ref().lines() {
            let line = line.expect("the log is text");
            if line.contains("demo trace")
                && let Some(at) = line.find("url=")
            {
                url = Some(line[at + "url=".len()..].trim().to_string());
            }
            lines.push(line);
            if url.is_some() && lines.iter().any(|l| l.contains("web UI")) {
                break;
            }
        }
        (lines, url.expect("a demo trace is logged"))
    };
    let log = lines.join("\n");
    assert!(log.contains("demo traffic on") && log.contains("otlp-http"), "{log}");
    assert!(log.contains("web UI url=http://127.0.0.1:") && log.contains("/search"), "{log}");
    let path_at = trace_url.find("/trace/").expect("a trace address in the UI");
    let port: u16 = trace_url["http://localhost:".len()..path_at].parse().expect("a port");
    let trace_id = &trace_url[path_at + "/trace/".len()..];

    let get = |path: &str| {
        let mut stream = TcpStream::connect((localhost(), port)).expect("the query port answers");
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: kiseki\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    // The logged address opens the trace page, and the API it reads has the trace.
    let page = get(&trace_url[path_at..]);
    assert!(page.starts_with("HTTP/1.1 200") && page.contains("text/html"), "{page}");
    let response = get(&format!("/api/traces/{trace_id}"));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(trace_id), "{response}");
    assert!(response.contains("frontend") || response.contains("serviceName"), "{response}");

    // The demo's spans came in through the OTLP/HTTP receiver, as a tracer's do.
    let mut stream = TcpStream::connect((localhost(), port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(stream, "GET /metrics HTTP/1.1\r\nHost: kiseki\r\nConnection: close\r\n\r\n").unwrap();
    let mut metrics = String::new();
    stream.read_to_string(&mut metrics).unwrap();
    let demo_spans = metrics
        .lines()
        .find(|line| line.starts_with("kiseki_receiver_spans_total{receiver=\"otlp_http\""))
        .and_then(|line| line.rsplit(' ').next()?.parse::<u64>().ok());
    assert!(demo_spans.is_some_and(|n| n > 0), "{metrics}");
    drop(reader);
    drop(server);
    let _ = std::fs::remove_dir_all(&data_dir);
}
