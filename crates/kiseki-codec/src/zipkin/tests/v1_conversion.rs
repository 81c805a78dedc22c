//! Cases of Zipkin's own v1 → v2 conversion tests (`SpanConverterTest`), plus the shapes real
//! tracers send, checked against the same expectations.

use kiseki_model::{AnyValue, SpanId, Str, TraceId};

use crate::zipkin::v1::{V1Annotation, V1BinaryAnnotation, V1Span, convert};
use crate::zipkin::wire::{Annotation, Endpoint, ZipkinKind, ZipkinSpan};

fn endpoint(service: &str, ip: &str, port: u16) -> Endpoint {
    let mut e = Endpoint::default();
    e.set_service_name(service);
    e.set_ip_text(ip);
    e.port = port;
    e
}

fn frontend() -> Endpoint {
    endpoint("frontend", "127.0.0.1", 0)
}

fn backend() -> Endpoint {
    endpoint("backend", "192.168.99.101", 9000)
}

fn v1(timestamp: i64, duration: i64) -> V1Span {
    V1Span {
        trace_id: TraceId::new(1).unwrap(),
        id: SpanId::new(3).unwrap(),
        parent_id: SpanId::new(2),
        name: Str::new("get"),
        timestamp,
        duration,
        annotations: Vec::new(),
        binary_annotations: Vec::new(),
        debug: false,
    }
}

impl V1Span {
    fn annotation(mut self, timestamp: i64, value: &str, endpoint: Option<Endpoint>) -> Self {
        self.annotations.push(V1Annotation { timestamp, value: Str::new(value), endpoint });
        self
    }

    fn tag(mut self, key: &str, value: &str, endpoint: Option<Endpoint>) -> Self {
        self.binary_annotations.push(V1BinaryAnnotation {
            key: Str::new(key),
            value: AnyValue::from(value),
            endpoint,
        });
        self
    }

    fn address(mut self, key: &str, endpoint: Endpoint) -> Self {
        self.binary_annotations.push(V1BinaryAnnotation {
            key: Str::new(key),
            value: AnyValue::Bool(true),
            endpoint: Some(endpoint),
        });
        self
    }

    fn converted(mut self) -> Vec<ZipkinSpan> {
        self.sort();
        convert(&self)
    }
}

fn v2(
    kind: Option<ZipkinKind>,
    local: Option<Endpoint>,
    timestamp: u64,
    duration: u64,
) -> ZipkinSpan {
    let mut span = ZipkinSpan::new(TraceId::new(1).unwrap(), SpanId::new(3).unwrap());
    span.parent_id = SpanId::new(2);
    span.name = Str::new("get");
    span.kind = kind;
    span.local_endpoint = local;
    span.timestamp = timestamp;
    span.duration = duration;
    span
}

impl ZipkinSpan {
    fn remote(mut self, remote: Endpoint) -> Self {
        self.remote_endpoint = Some(remote);
        self
    }

    fn annotated(mut self, timestamp: u64, value: &str) -> Self {
        self.annotations.push(Annotation { timestamp, value: Str::new(value) });
        self
    }

    fn tagged(mut self, key: &str, value: &str) -> Self {
        self.tags.push((Str::new(key), AnyValue::from(value)));
        self
    }

    fn shared(mut self) -> Self {
        self.shared = true;
        self
    }
}

const T: i64 = 1_472_470_996_199_000;
const TU: u64 = T as u64;

#[test]
fn client() {
    let span = v1(T, 207_000)
        .annotation(T, "cs", Some(frontend()))
        .annotation(T + 39_000, "ws", Some(frontend()))
        .annotation(T + 204_000, "wr", Some(frontend()))
        .annotation(T + 207_000, "cr", Some(frontend()))
        .tag("http.path", "/api", Some(frontend()))
        .tag("clnt/finagle.version", "6.45.0", Some(frontend()))
        .address("sa", backend());
    let expected = v2(Some(ZipkinKind::Client), Some(frontend()), TU, 207_000)
        .remote(backend())
        .annotated(TU + 39_000, "ws")
        .annotated(TU + 204_000, "wr")
        .tagged("clnt/finagle.version", "6.45.0")
        .tagged("http.path", "/api");
    assert_eq!(span.converted(), [expected]);
}

#[test]
fn client_unfinished_keeps_wire_send() {
    let span = v1(T, 0).annotation(T, "cs", Some(frontend())).annotation(
        T + 39_000,
        "ws",
        Some(frontend()),
    );
    let expected =
        v2(Some(ZipkinKind::Client), Some(frontend()), TU, 0).annotated(TU + 39_000, "ws");
    assert_eq!(span.converted(), [expected]);
}

#[test]
fn client_duration_from_annotations_when_the_span_has_none() {
    let span = v1(0, 0).annotation(T, "cs", Some(frontend())).annotation(
        T + 5_000,
        "cr",
        Some(frontend()),
    );
    assert_eq!(span.converted(), [v2(Some(ZipkinKind::Client), Some(frontend()), TU, 5_000)]);
}

#[test]
fn server_with_client_address() {
    let span = v1(T, 207_000)
        .annotation(T, "sr", Some(backend()))
        .annotation(T + 207_000, "ss", Some(backend()))
        .tag("http.path", "/api", Some(backend()))
        .address("ca", frontend());
    let expected = v2(Some(ZipkinKind::Server), Some(backend()), TU, 207_000)
        .remote(frontend())
        .tagged("http.path", "/api");
    assert_eq!(span.converted(), [expected]);
}

#[test]
fn no_annotations_except_addresses() {
    let span = v1(T, 207_000).tag("lc", "", Some(frontend())).address("sa", backend());
    let expected = v2(None, Some(frontend()), TU, 207_000).remote(backend());
    assert_eq!(span.converted(), [expected]);
}

#[test]
fn core_annotation_without_endpoint_is_not_core() {
    let span = v1(T, 0).annotation(T, "sr", None);
    assert_eq!(span.converted(), [v2(None, None, TU, 0).annotated(TU, "sr")]);
}

/// zipkin-js without a local endpoint: `cs`/`cr` carry no endpoint, `sa` does. Zipkin keeps no
/// kind, keeps `cs`/`cr` as annotations and takes `sa` as the remote endpoint.
#[test]
fn zipkin_js_client_without_local_endpoint() {
    let span = v1(T, 2_000)
        .annotation(T, "cs", None)
        .annotation(T + 2_000, "cr", None)
        .tag("http.method", "GET", None)
        .address("sa", backend());
    let expected = v2(None, None, TU, 2_000)
        .remote(backend())
        .annotated(TU, "cs")
        .annotated(TU + 2_000, "cr")
        .tagged("http.method", "GET");
    assert_eq!(span.converted(), [expected]);
}

/// One v1 span with both halves of an RPC: the client keeps the span's times, the server half is
/// shared with timestamp = sr and duration = ss − sr.
#[test]
fn client_and_server_in_one_span_become_two() {
    let span = v1(T, 207_000)
        .annotation(T, "cs", Some(frontend()))
        .annotation(T + 39_000, "ws", Some(frontend()))
        .annotation(T + 51_000, "sr", Some(backend()))
        .annotation(T + 151_000, "ss", Some(backend()))
        .annotation(T + 204_000, "wr", Some(frontend()))
        .annotation(T + 207_000, "cr", Some(frontend()))
        .tag("http.path", "/api", Some(frontend()))
        .tag("http.path", "/backend", Some(backend()))
        .tag("clnt/finagle.version", "6.45.0", Some(frontend()))
        .tag("srv/finagle.version", "6.44.0", Some(backend()))
        .address("ca", frontend())
        .address("sa", backend());
    let client = v2(Some(ZipkinKind::Client), Some(frontend()), TU, 207_000)
        .remote(backend())
        .annotated(TU + 39_000, "ws")
        .annotated(TU + 204_000, "wr")
        .tagged("clnt/finagle.version", "6.45.0")
        .tagged("http.path", "/api");
    let server = v2(Some(ZipkinKind::Server), Some(backend()), TU + 51_000, 100_000)
        .shared()
        .remote(frontend())
        .tagged("http.path", "/backend")
        .tagged("srv/finagle.version", "6.44.0");
    assert_eq!(span.converted(), [client, server]);
}

#[test]
fn server_without_timestamp_is_shared() {
    let span = v1(0, 0).annotation(T + 51_000, "sr", Some(backend())).annotation(
        T + 151_000,
        "ss",
        Some(backend()),
    );
    let expected = v2(Some(ZipkinKind::Server), Some(backend()), TU + 51_000, 100_000).shared();
    assert_eq!(span.converted(), [expected]);
}

#[test]
fn server_with_client_timestamp_is_shared() {
    let span =
        v1(10, 0).annotation(20, "sr", Some(backend())).annotation(30, "ss", Some(backend()));
    assert_eq!(span.converted(), [v2(Some(ZipkinKind::Server), Some(backend()), 20, 10).shared()]);
}

#[test]
fn loopback_client_and_server_fork_the_server() {
    let span = v1(T, 207_000)
        .annotation(T, "cs", Some(frontend()))
        .annotation(T + 51_000, "sr", Some(frontend()))
        .annotation(T + 151_000, "ss", Some(frontend()))
        .annotation(T + 207_000, "cr", Some(frontend()));
    let client = v2(Some(ZipkinKind::Client), Some(frontend()), TU, 207_000);
    let server = v2(Some(ZipkinKind::Server), Some(frontend()), TU + 51_000, 100_000).shared();
    assert_eq!(span.converted(), [client, server]);
}

#[test]
fn only_address_annotations() {
    let span = v1(0, 0).address("ca", frontend()).address("sa", backend());
    assert_eq!(span.converted(), [v2(None, Some(frontend()), 0, 0).remote(backend())]);
}

#[test]
fn data_without_endpoint_goes_on_the_first_span() {
    let mut span = v1(0, 0)
        .annotation(T, "foo", Some(frontend()))
        .annotation(T + 39_000, "bar", Some(frontend()))
        .annotation(T + 51_000, "baz", Some(backend()))
        .annotation(T + 151_000, "qux", Some(backend()))
        .annotation(T + 204_000, "missing", None)
        .tag("foo", "bar", Some(frontend()))
        .tag("baz", "qux", Some(backend()))
        .tag("missing", "", None);
    span.parent_id = None;
    let mut first = v2(None, Some(frontend()), 0, 0)
        .annotated(TU, "foo")
        .annotated(TU + 39_000, "bar")
        .annotated(TU + 204_000, "missing")
        .tagged("foo", "bar")
        .tagged("missing", "");
    let mut second = v2(None, Some(backend()), 0, 0)
        .annotated(TU + 51_000, "baz")
        .annotated(TU + 151_000, "qux")
        .tagged("baz", "qux");
    first.parent_id = None;
    second.parent_id = None;
    assert_eq!(span.converted(), [first, second]);
}

#[test]
fn finagle_client_address_with_the_servers_name_loses_the_name() {
    let mut ca = frontend();
    ca.service_name = Some(Str::new("backend"));
    let span = v1(T, 207_000)
        .annotation(T, "sr", Some(backend()))
        .annotation(T + 207_000, "ss", Some(backend()))
        .address("ca", ca)
        .address("sa", backend());
    let mut remote = frontend();
    remote.service_name = None;
    let expected = v2(Some(ZipkinKind::Server), Some(backend()), TU, 207_000).remote(remote);
    assert_eq!(span.converted(), [expected]);
}

#[test]
fn redundant_loopback_address_on_a_server_is_ignored() {
    let span = v1(T, 207_000)
        .annotation(T, "sr", Some(frontend()))
        .annotation(T + 207_000, "ss", Some(frontend()))
        .address("ca", frontend())
        .address("sa", frontend());
    assert_eq!(span.converted(), [v2(Some(ZipkinKind::Server), Some(frontend()), TU, 207_000)]);
}

#[test]
fn producer_and_consumer_in_one_span() {
    let kafka = endpoint("kafka", "", 0);
    let span = v1(0, 0)
        .annotation(T, "ms", Some(frontend()))
        .annotation(T + 39_000, "ws", Some(frontend()))
        .annotation(T + 204_000, "wr", Some(backend()))
        .annotation(T + 207_000, "mr", Some(backend()))
        .address("ma", kafka.clone());
    let producer =
        v2(Some(ZipkinKind::Producer), Some(frontend()), TU, 39_000).remote(kafka.clone());
    let consumer =
        v2(Some(ZipkinKind::Consumer), Some(backend()), TU + 204_000, 3_000).shared().remote(kafka);
    assert_eq!(span.converted(), [producer, consumer]);
}

#[test]
fn producer_alone_takes_the_wire_send_as_end() {
    let span = v1(0, 0).annotation(T, "ms", Some(frontend())).annotation(
        T + 39_000,
        "ws",
        Some(frontend()),
    );
    assert_eq!(span.converted(), [v2(Some(ZipkinKind::Producer), Some(frontend()), TU, 39_000)]);
}

#[test]
fn client_and_server_halves_on_shared_span_remove_shared_from_client() {
    // A client-only span whose timestamp is absent is not marked shared.
    let span =
        v1(0, 0).annotation(T, "cs", Some(frontend())).annotation(T + 10, "cr", Some(frontend()));
    let out = span.converted();
    assert!(!out[0].shared);
    assert_eq!(out[0].kind, Some(ZipkinKind::Client));
}

#[test]
fn missing_start_annotation_is_inferred_from_the_span_times() {
    let span = v1(T, 100).annotation(T + 100, "cr", Some(frontend()));
    assert_eq!(span.converted(), [v2(Some(ZipkinKind::Client), Some(frontend()), TU, 100)]);
}

#[test]
fn negative_differences_and_times_clamp_to_zero() {
    let span =
        v1(0, 0).annotation(-5, "sr", Some(backend())).annotation(i64::MIN, "ss", Some(backend()));
    let out = span.converted();
    assert_eq!((out[0].timestamp, out[0].duration), (0, 0));
}

#[test]
fn parent_equal_to_id_is_dropped_and_duplicates_removed() {
    let mut span = v1(T, 1).annotation(T, "x", None).annotation(T, "x", None);
    span.parent_id = Some(span.id);
    let out = span.converted();
    assert_eq!(out[0].parent_id, None);
    assert_eq!(out[0].annotations.len(), 1);
}
