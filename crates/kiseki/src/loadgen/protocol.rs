//! The wire protocols the load generator speaks: where each one sends, and how a batch of spans
//! becomes request bodies with the encoders of `kiseki-codec`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::GzEncoder;
use kiseki_codec::jaeger::ThriftProtocol;
use kiseki_codec::{datadog, jaeger, otlp, zipkin};
use kiseki_model::{Resource, Span};

use super::LoadgenError;

/// A protocol and encoding, named as `--protocol` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Protocol {
    /// OTLP over gRPC, `TraceService/Export` (port 4317).
    OtlpGrpc,
    /// OTLP over HTTP, protobuf, `POST /v1/traces` (port 4318).
    OtlpHttp,
    /// OTLP over HTTP, JSON, `POST /v1/traces` (port 4318).
    OtlpHttpJson,
    /// Zipkin v2 JSON, `POST /api/v2/spans` (port 9411).
    Zipkin,
    /// Zipkin v2 protobuf, `POST /api/v2/spans` (port 9411).
    ZipkinProto,
    /// Jaeger Thrift over HTTP, `POST /api/traces`, one request per process (port 14268).
    Jaeger,
    /// Jaeger gRPC, `CollectorService/PostSpans` (port 14250).
    JaegerGrpc,
    /// Datadog agent API v0.4, msgpack, `PUT /v0.4/traces` (port 8126).
    Datadog,
    /// Datadog agent API v0.5, msgpack with a string table, `PUT /v0.5/traces` (port 8126).
    DatadogV05,
}

/// How a protocol's requests travel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    Http {
        method: http::Method,
        path: &'static str,
        content_type: &'static str,
    },
    /// A unary gRPC method.
    Grpc {
        path: &'static str,
    },
}

impl Protocol {
    pub const ALL: [Protocol; 9] = [
        Protocol::OtlpGrpc,
        Protocol::OtlpHttp,
        Protocol::OtlpHttpJson,
        Protocol::Zipkin,
        Protocol::ZipkinProto,
        Protocol::Jaeger,
        Protocol::JaegerGrpc,
        Protocol::Datadog,
        Protocol::DatadogV05,
    ];

    /// The name `--protocol` takes and reports show.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OtlpGrpc => "otlp-grpc",
            Protocol::OtlpHttp => "otlp-http",
            Protocol::OtlpHttpJson => "otlp-http-json",
            Protocol::Zipkin => "zipkin",
            Protocol::ZipkinProto => "zipkin-proto",
            Protocol::Jaeger => "jaeger",
            Protocol::JaegerGrpc => "jaeger-grpc",
            Protocol::Datadog => "datadog",
            Protocol::DatadogV05 => "datadog-v05",
        }
    }

    /// The port a server of this protocol listens on by convention.
    pub fn standard_port(self) -> u16 {
        match self {
            Protocol::OtlpGrpc => 4317,
            Protocol::OtlpHttp | Protocol::OtlpHttpJson => 4318,
            Protocol::Zipkin | Protocol::ZipkinProto => 9411,
            Protocol::Jaeger => 14268,
            Protocol::JaegerGrpc => 14250,
            Protocol::Datadog | Protocol::DatadogV05 => 8126,
        }
    }

    /// The name of the kiseki listener that receives this protocol (`Server::addr` takes it).
    pub fn listener(self) -> &'static str {
        match self {
            Protocol::OtlpGrpc => "otlp_grpc",
            Protocol::OtlpHttp | Protocol::OtlpHttpJson => "otlp_http",
            Protocol::Zipkin | Protocol::ZipkinProto => "zipkin",
            Protocol::Jaeger => "jaeger_http",
            Protocol::JaegerGrpc => "jaeger_grpc",
            Protocol::Datadog | Protocol::DatadogV05 => "datadog",
        }
    }

    pub fn transport(self) -> Transport {
        let post =
            |path, content_type| Transport::Http { method: http::Method::POST, path, content_type };
        // Datadog's tracers PUT their payloads.
        let put = |path| Transport::Http {
            method: http::Method::PUT,
            path,
            content_type: "application/msgpack",
        };
        match self {
            Protocol::OtlpGrpc => Transport::Grpc {
                path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            },
            Protocol::OtlpHttp => post("/v1/traces", "application/x-protobuf"),
            Protocol::OtlpHttpJson => post("/v1/traces", "application/json"),
            Protocol::Zipkin => post("/api/v2/spans", "application/json"),
            Protocol::ZipkinProto => post("/api/v2/spans", "application/x-protobuf"),
            Protocol::Jaeger => post("/api/traces", "application/x-thrift"),
            Protocol::JaegerGrpc => {
                Transport::Grpc { path: "/jaeger.api_v2.CollectorService/PostSpans" }
            }
            Protocol::Datadog => put("/v0.4/traces"),
            Protocol::DatadogV05 => put("/v0.5/traces"),
        }
    }

    /// The request bodies for one batch of whole traces. Every protocol but Jaeger Thrift sends
    /// the batch in one request; Jaeger's `Batch` has one process, so it takes one request per
    /// resource, and `spans` is reordered so each request's spans are contiguous.
    pub fn encode(self, spans: &mut [Span], traces: usize, gzip: bool) -> Vec<Payload> {
        let whole =
            |body: Vec<u8>| vec![Payload { body, spans: 0..spans.len(), traces, gzipped: false }];
        let mut payloads = match self {
            Protocol::OtlpGrpc | Protocol::OtlpHttp => whole(otlp::encode_traces_proto(spans)),
            Protocol::OtlpHttpJson => whole(otlp::encode_traces_json(spans)),
            Protocol::Zipkin => whole(zipkin::encode_v2_json(spans)),
            Protocol::ZipkinProto => whole(zipkin::encode_v2_proto(spans)),
            Protocol::JaegerGrpc => whole(jaeger::encode_proto_post_spans(spans)),
            Protocol::Datadog => whole(datadog::encode_v04_msgpack(spans)),
            Protocol::DatadogV05 => whole(datadog::encode_v05(spans)),
            Protocol::Jaeger => jaeger_thrift(spans),
        };
        // gRPC compresses inside its own framing; HTTP bodies are compressed here.
        if gzip && matches!(self.transport(), Transport::Http { .. }) {
            for payload in &mut payloads {
                payload.body = gzip_bytes(&payload.body);
                payload.gzipped = true;
            }
        }
        payloads
    }
}

/// One request body and the spans of the batch it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub body: Vec<u8>,
    /// Which spans of the batch the body holds.
    pub spans: Range<usize>,
    /// Traces in the body (whole or in part), for Datadog's `X-Datadog-Trace-Count`.
    pub traces: usize,
    /// The body is gzip-compressed (`Content-Encoding: gzip`).
    pub gzipped: bool,
}

/// One Thrift `Batch` per resource, in the order the resources first appear.
fn jaeger_thrift(spans: &mut [Span]) -> Vec<Payload> {
    let same = |a: &Arc<Resource>, b: &Arc<Resource>| Arc::ptr_eq(a, b) || a == b;
    let mut resources: Vec<Arc<Resource>> = Vec::new();
    // Stable, and keys are computed in order: each process's spans keep their order.
    spans.sort_by_cached_key(|span| {
        resources.iter().position(|r| same(r, &span.resource)).unwrap_or_else(|| {
            resources.push(Arc::clone(&span.resource));
            resources.len() - 1
        })
    });
    let mut payloads = Vec::with_capacity(resources.len());
    let mut start = 0;
    for group in spans.chunk_by(|a, b| same(&a.resource, &b.resource)) {
        let range = start..start + group.len();
        start = range.end;
        let traces = count_traces(group);
        // A group has one resource, so the encoder writes one batch for it.
        let bodies = jaeger::encode_thrift_batch(group, ThriftProtocol::Binary);
        for (i, body) in bodies.into_iter().enumerate() {
            let spans = if i == 0 { range.clone() } else { range.end..range.end };
            payloads.push(Payload { body, spans, traces, gzipped: false });
        }
    }
    payloads
}

fn count_traces(spans: &[Span]) -> usize {
    let mut ids: Vec<_> = spans.iter().map(|s| s.trace_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

fn gzip_bytes(body: &[u8]) -> Vec<u8> {
    // The fastest level: the load generator should spend its time sending, not compressing.
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// Where to send: a host name or address, and a port unless the protocol's standard one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: Option<u16>,
}

impl Target {
    /// `host`, `host:port`, an IPv4 or IPv6 address, or `[ipv6]:port`.
    pub fn parse(text: &str) -> Result<Self, LoadgenError> {
        let text = text.trim();
        let invalid = || LoadgenError::Target(text.to_string());
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(SocketAddr::into(addr));
        }
        if let Ok(ip) = text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            return Ok(Self { host: ip.to_string(), port: None });
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse::<u16>().map_err(|_| invalid())?)),
            None => (text, None),
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
        if host.is_empty() || !host.chars().all(valid) {
            return Err(invalid());
        }
        Ok(Self { host: host.to_string(), port })
    }

    /// `host:port` for a URI, with the protocol's standard port unless one was given.
    pub fn authority(&self, protocol: Protocol) -> String {
        let port = self.port.unwrap_or(protocol.standard_port());
        if self.host.contains(':') {
            format!("[{}]:{port}", self.host)
        } else {
            format!("{}:{port}", self.host)
        }
    }
}

impl From<SocketAddr> for Target {
    /// The address as given; an unspecified one (`0.0.0.0`, `::`) becomes loopback, since that
    /// is where a server bound to every address is reached from the same machine.
    fn from(addr: SocketAddr) -> Self {
        let ip = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::from([127, 0, 0, 1]),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        Self { host: ip.to_string(), port: Some(addr.port()) }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use kiseki_testkit::Generator;

    use super::*;

    fn batch() -> Vec<Span> {
        Generator::new(5).spans(300, 1_700_000_000_000_000_000)
    }

    #[test]
    fn every_protocol_decodes_back_to_the_batch() {
        for protocol in Protocol::ALL {
            let mut spans = batch();
            let payloads = protocol.encode(&mut spans, 0, false);
            let mut decoded = 0;
            for payload in &payloads {
                let body = &payload.body[..];
                let spans = match protocol {
                    Protocol::OtlpGrpc | Protocol::OtlpHttp => {
                        otlp::decode_traces_proto(body).map(|d| d.spans).unwrap()
                    }
                    Protocol::OtlpHttpJson => {
                        otlp::decode_traces_json(body).map(|d| d.spans).unwrap()
                    }
                    Protocol::Zipkin => zipkin::decode_v2_json(body).unwrap(),
                    Protocol::ZipkinProto => zipkin::decode_v2_proto(body).unwrap(),
                    Protocol::Jaeger => jaeger::decode_thrift_batch_binary(body).unwrap(),
                    Protocol::JaegerGrpc => jaeger::decode_proto_post_spans(body).unwrap(),
                    Protocol::Datadog => datadog::decode_v04_msgpack(body).unwrap(),
                    Protocol::DatadogV05 => datadog::decode_v05(body).unwrap(),
                };
                assert_eq!(spans.len(), payload.spans.len(), "{protocol:?}");
                decoded += spans.len();
            }
            assert_eq!(decoded, spans.len(), "{protocol:?}");
        }
    }

    #[test]
    fn jaeger_sends_one_request_per_process_and_keeps_every_span() {
        let original = batch();
        let mut spans = original.clone();
        let payloads = Protocol::Jaeger.encode(&mut spans, 0, false);
        let resources: HashSet<_> =
            original.iter().map(|s| Arc::as_ptr(&s.resource) as usize).collect();
        assert_eq!(payloads.len(), resources.len());
        let mut covered = 0;
        for payload in &payloads {
            assert_eq!(payload.spans.start, covered, "ranges are contiguous");
            covered = payload.spans.end;
            let group = &spans[payload.spans.clone()];
            assert!(group.iter().all(|s| Arc::ptr_eq(&s.resource, &group[0].resource)));
            let decoded = jaeger::decode_thrift_batch_binary(&payload.body).unwrap();
            let ids: Vec<_> = decoded.iter().map(|s| s.span_id).collect();
            assert_eq!(ids, group.iter().map(|s| s.span_id).collect::<Vec<_>>());
            assert_eq!(payload.traces, count_traces(group));
        }
        assert_eq!(covered, spans.len());
        let ids = |spans: &[Span]| spans.iter().map(|s| s.span_id).collect::<HashSet<_>>();
        assert_eq!(ids(&spans), ids(&original));
    }

    #[test]
    fn gzip_compresses_http_bodies_only() {
        let mut spans = batch();
        let plain = Protocol::OtlpHttp.encode(&mut spans, 3, false);
        let gzipped = Protocol::OtlpHttp.encode(&mut spans, 3, true);
        assert!(gzipped[0].gzipped && !plain[0].gzipped);
        assert!(gzipped[0].body.len() < plain[0].body.len() / 2);
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&gzipped[0].body[..]),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped, plain[0].body);
        let grpc = Protocol::OtlpGrpc.encode(&mut spans, 3, true);
        assert!(!grpc[0].gzipped, "gRPC compresses in its framing");
        assert_eq!(grpc[0].body, plain[0].body);
    }

    #[test]
    fn targets_take_hosts_addresses_and_ports() {
        let parse = |text: &str| Target::parse(text).map(|t| t.authority(Protocol::OtlpHttp));
        assert_eq!(parse("127.0.0.1").unwrap(), "127.0.0.1:4318");
        assert_eq!(parse("127.0.0.1:9").unwrap(), "127.0.0.1:9");
        assert_eq!(parse("localhost").unwrap(), "localhost:4318");
        assert_eq!(parse("kiseki.internal:80").unwrap(), "kiseki.internal:80");
        assert_eq!(parse("::1").unwrap(), "[::1]:4318");
        assert_eq!(parse("[::1]").unwrap(), "[::1]:4318");
        assert_eq!(parse("[::1]:7").unwrap(), "[::1]:7");
        for bad in ["", "host:port", "a b", "http://x", "host:99999"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let any = Target::from(SocketAddr::from(([0, 0, 0, 0], 4317)));
        assert_eq!(any.authority(Protocol::OtlpHttp), "127.0.0.1:4317");
    }
}
