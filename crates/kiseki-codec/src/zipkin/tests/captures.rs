//! Every Zipkin payload captured from a real tracer, decoded and checked against what the
//! emitter says it sent (`expected.json`), plus the facts each tracer is known for.

use std::fs;
use std::path::{Path, PathBuf};

use kiseki_model::{AnyValue, Span, SpanId, SpanKind, StatusCode, TraceId, semconv};
use serde_json::Value;

use crate::zipkin::{
    ApiVersion, Encoding, check_encoding, decode, encode_v2_json, encode_v2_proto,
};
use crate::zipkin::{decode_v2_json, decode_v2_proto};

const TRACERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tracers");

/// Decodes every Zipkin request of a capture folder, routed as a receiver routes it: by path and
/// content type, after Zipkin's check that the body is of that API version.
fn decode_folder(folder: &str) -> Vec<Span> {
    let dir = Path::new(TRACERS).join(folder);
    let mut metas: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .filter(|path| !path.ends_with("expected.json"))
        .collect();
    metas.sort();
    let mut spans = Vec::new();
    for meta_path in metas {
        let meta: Value = serde_json::from_slice(&fs::read(&meta_path).unwrap()).unwrap();
        let version = match meta["path"].as_str() {
            Some("/api/v1/spans") => ApiVersion::V1,
            Some("/api/v2/spans") => ApiVersion::V2,
            _ => continue,
        };
        let headers = meta["headers"].as_object().unwrap();
        let content_type = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .and_then(|(_, value)| value.as_str());
        let encoding = Encoding::for_request(version, content_type).unwrap();
        let body = fs::read(meta_path.with_extension("body")).unwrap();
        check_encoding(encoding, &body).unwrap();
        spans.extend(
            decode(encoding, &body).unwrap_or_else(|e| panic!("{}: {e}", meta_path.display())),
        );
    }
    assert!(!spans.is_empty(), "{folder} has no Zipkin request");
    spans
}

fn body_json(file: &str) -> Value {
    serde_json::from_slice(&fs::read(Path::new(TRACERS).join(file)).unwrap()).unwrap()
}

fn hex_trace(text: &str) -> TraceId {
    TraceId::from_hex(text).unwrap()
}

fn hex_span(text: &str) -> SpanId {
    SpanId::from_hex(text).unwrap()
}

/// Checks every span of `expected.json` (of the given services) against the decoded spans: same
/// trace id, span id, parent, name, service and error flag. Returns how many were checked.
fn check_expected(folder: &str, spans: &[Span], services: Option<&[&str]>) -> usize {
    let path = Path::new(TRACERS).join(folder).join("expected.json");
    let expected: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    let mut checked = 0;
    for trace in expected["traces"].as_array().unwrap() {
        let trace_id = hex_trace(trace["trace_id"].as_str().unwrap());
        for want in trace["spans"].as_array().unwrap() {
            let service = want["service"].as_str().unwrap();
            if services.is_some_and(|services| !services.contains(&service)) {
                continue;
            }
            let span_id = hex_span(want["span_id"].as_str().unwrap());
            // Both halves of a shared span have the same id; the service tells them apart.
            let found = spans
                .iter()
                .find(|s| {
                    s.trace_id == trace_id && s.span_id == span_id && s.service_name() == service
                })
                .unwrap_or_else(|| {
                    panic!("{folder}: no span {span_id} of {service} in {trace_id}")
                });
            let parent = want["parent_span_id"].as_str().map(hex_span);
            assert_eq!(found.parent_span_id, parent, "{folder} {span_id}");
            assert_eq!(found.name, want["name"].as_str().unwrap(), "{folder} {span_id}");
            assert_eq!(found.is_error(), want["error"].as_bool().unwrap(), "{folder} {span_id}");
            checked += 1;
        }
    }
    checked
}

fn span<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no span named {name:?}"))
}

fn kinds(spans: &[Span]) -> Vec<(&str, SpanKind)> {
    let mut kinds: Vec<(&str, SpanKind)> =
        spans.iter().map(|s| (s.name.as_str(), s.kind)).collect();
    kinds.sort();
    kinds
}

/// The v2 encoders must carry a decoded capture back to the same spans (in what Zipkin holds).
fn assert_reencodes(spans: &[Span]) {
    let again = decode_v2_json(&encode_v2_json(spans)).unwrap();
    let again_proto = decode_v2_proto(&encode_v2_proto(spans)).unwrap();
    for (before, (json, proto)) in spans.iter().zip(again.iter().zip(&again_proto)) {
        for after in [json, proto] {
            assert_eq!(after.trace_id, before.trace_id);
            assert_eq!(after.span_id, before.span_id);
            assert_eq!(after.parent_span_id, before.parent_span_id);
            assert_eq!(after.name, before.name);
            assert_eq!(after.kind, before.kind);
            assert_eq!(after.status, before.status);
            assert_eq!(after.start_time_unix_nano, before.start_time_unix_nano);
            assert_eq!(after.end_time_unix_nano, before.end_time_unix_nano);
            assert_eq!(after.service_name(), before.service_name());
            assert_eq!(after.scope, before.scope);
            assert_eq!(after.events, before.events);
            assert_eq!(after.links, before.links);
            assert_eq!(after.attributes.len(), before.attributes.len(), "{}", before.name);
        }
    }
    assert_eq!((again.len(), again_proto.len()), (spans.len(), spans.len()));
}

#[test]
fn python_otel_zipkin_json_v2() {
    let spans = decode_folder("python-otel-zipkin-json-v2");
    assert_eq!(check_expected("python-otel-zipkin-json-v2", &spans, None), 8);
    let root = span(&spans, "GET /checkout/{id}");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.status.code, StatusCode::Ok);
    assert_eq!(
        (root.scope.name.as_str(), root.scope.version.as_str()),
        ("kiseki.interop", "0.1.0")
    );
    assert_eq!(root.attributes.get(semconv::ZIPKIN_DEBUG), Some(&AnyValue::Bool(true)));
    assert_eq!(root.attributes.get_str(semconv::NETWORK_LOCAL_ADDRESS), Some("10.1.2.3"));
    assert_eq!(root.attributes.get(semconv::NETWORK_LOCAL_PORT), Some(&AnyValue::Int(8080)));
    assert_eq!(root.attributes.get_str("enduser.id"), Some("Jürgen Müller 軌跡 🚀"));
    // Tags are strings: the exporter stringified every value.
    assert_eq!(root.attributes.get_str("app.cart.big"), Some("1099511627777"));
    assert_eq!(root.attributes.get_str("app.cart.quantities"), Some(r#"["1","3"]"#));
    // Resource attributes the exporter copied into tags stay span attributes.
    assert_eq!(root.attributes.get_str("host.name"), Some("interop-host-1"));
    for key in ["otel.status_code", "otel.scope.name", "otel.library.name", "otel.library.version"]
    {
        assert_eq!(root.attributes.get(key), None, "{key}");
    }
    // INTERNAL spans arrive with "kind": null.
    assert_eq!(span(&spans, "compute-price").kind, SpanKind::Unspecified);
    assert_eq!(span(&spans, "orders publish").kind, SpanKind::Producer);
    assert_eq!(span(&spans, "orders process").kind, SpanKind::Consumer);
    assert_eq!(span(&spans, "POST").kind, SpanKind::Client);

    let failed = span(&spans, "validate-coupon");
    assert_eq!(failed.status.code, StatusCode::Error);
    assert!(failed.status.message.starts_with("CouponExpired: coupon SPRING24 expired"));
    assert_eq!(failed.attributes.get(semconv::ERROR), None);
    let exception = &failed.events[0];
    assert_eq!(exception.name, semconv::EXCEPTION_EVENT);
    assert_eq!(
        exception.attributes.get_str(semconv::EXCEPTION_TYPE),
        Some("_otel_trace.CouponExpired")
    );
    assert_eq!(exception.attributes.get_str("exception.escaped"), Some("False"));

    let events = &span(&spans, "compute-price").events;
    assert_eq!(events[0].name, "cache.miss");
    let a = &events[0].attributes;
    assert_eq!(a.get("cache.attempt"), Some(&AnyValue::Int(2)));
    assert_eq!(a.get("cache.cold"), Some(&AnyValue::Bool(true)));
    assert_eq!(a.get("cache.ratio"), Some(&AnyValue::Double(0.5)));
    assert_eq!(
        a.get("cache.tiers"),
        Some(&AnyValue::Array(vec![AnyValue::from("l1"), AnyValue::from("l2")]))
    );
    let body = body_json("python-otel-zipkin-json-v2/001-9411-api-v2-spans.body");
    let sent = body.as_array().unwrap().iter().find(|s| s["name"] == "compute-price").unwrap();
    let micros = sent["annotations"][0]["timestamp"].as_u64().unwrap();
    assert_eq!(events[0].time_unix_nano, micros * 1000);
    assert_eq!(
        span(&spans, "compute-price").start_time_unix_nano,
        sent["timestamp"].as_u64().unwrap() * 1000
    );
    assert_eq!((events[1].name.as_str(), events[1].attributes.len()), ("price.computed", 0));
    assert_reencodes(&spans);
}

#[test]
fn python_otel_zipkin_proto_matches_its_json() {
    let spans = decode_folder("python-otel-zipkin-proto");
    assert_eq!(check_expected("python-otel-zipkin-proto", &spans, None), 8);
    let root = span(&spans, "GET /checkout/{id}");
    assert_eq!(root.kind, SpanKind::Server);
    // 16-byte trace ids; the expected trace ids of expected.json are checked above.
    assert_ne!(root.trace_id.high(), 0);
    assert_eq!(root.attributes.get_str(semconv::NETWORK_LOCAL_ADDRESS), Some("10.1.2.3"));
    assert_eq!(span(&spans, "compute-price").events[0].attributes.len(), 5);
    let failed = span(&spans, "validate-coupon");
    assert!(failed.status.message.starts_with("CouponExpired"));
    assert_reencodes(&spans);
}

#[test]
fn python_otel_zipkin_json_v1_has_no_kinds() {
    let spans = decode_folder("python-otel-zipkin-json-v1");
    assert_eq!(check_expected("python-otel-zipkin-json-v1", &spans, None), 8);
    // The v1 exporter writes no core annotations, so every kind is lost.
    assert!(spans.iter().all(|s| s.kind == SpanKind::Unspecified));
    let root = span(&spans, "GET /checkout/{id}");
    assert_eq!(root.service_name(), "checkout");
    assert_eq!(root.attributes.get(semconv::ZIPKIN_DEBUG), Some(&AnyValue::Bool(true)));
    assert_eq!(root.scope.name, "kiseki.interop");
    assert_eq!(root.status.code, StatusCode::Ok);
    // The local endpoint comes from the binary annotations' endpoint.
    assert_eq!(root.attributes.get_str(semconv::NETWORK_LOCAL_ADDRESS), Some("10.1.2.3"));
    let events = &span(&spans, "compute-price").events;
    assert_eq!(events[0].name, "cache.miss");
    assert_eq!(events[0].attributes.get("cache.attempt"), Some(&AnyValue::Int(2)));
    // In v1 mode the exporter cuts every value at 128 characters, the stack trace too.
    let failed = span(&spans, "validate-coupon");
    assert_eq!(failed.events.len(), 1);
    assert_eq!(failed.events[0].name, semconv::EXCEPTION_EVENT);
    let stacktrace = failed.events[0].attributes.get_str(semconv::EXCEPTION_STACKTRACE).unwrap();
    assert_eq!(stacktrace.chars().count(), 128);
    assert_eq!(failed.status.code, StatusCode::Error);
    assert_reencodes(&spans);
}

#[test]
fn node_otel_zipkin() {
    let spans = decode_folder("node-otel-zipkin");
    assert_eq!(check_expected("node-otel-zipkin", &spans, None), 8);
    // Error status without a message: the exporter writes no `error` tag.
    let payment = span(&spans, "POST /payments");
    assert_eq!(payment.status.code, StatusCode::Error);
    assert_eq!(payment.status.message, "");
    assert_eq!(payment.kind, SpanKind::Client);
    assert_eq!(payment.attributes.get_str(semconv::PEER_SERVICE), Some("payments"));
    let charge = span(&spans, "charge card");
    assert_eq!(charge.status.message, "card declined: insufficient funds");
    assert_eq!(charge.events[0].name, "exception");
    assert_eq!(span(&spans, "render cart").kind, SpanKind::Unspecified);
    assert_eq!(span(&spans, "render cart").events[0].name, "template.compiled");
    let root = span(&spans, "GET /checkout");
    assert_eq!(root.attributes.get_str("app.item_ids"), Some("101,202,303"));
    assert_eq!(root.attributes.get_str("app.customer"), Some("Zoë Ünïcode 東京 🚀"));
    assert_reencodes(&spans);
}

#[test]
fn node_zipkin_js_v2_json() {
    let spans = decode_folder("node-zipkin-js-v2-json");
    assert_eq!(check_expected("node-zipkin-js-v2-json", &spans, None), 9);
    let halves: Vec<&Span> = spans.iter().filter(|s| s.name == "post /payments").collect();
    assert_eq!(halves.len(), 2);
    let server = halves.iter().find(|s| s.kind == SpanKind::Server).unwrap();
    let client = halves.iter().find(|s| s.kind == SpanKind::Client).unwrap();
    assert_eq!(server.span_id, client.span_id);
    assert_eq!(server.attributes.get(semconv::ZIPKIN_SHARED), Some(&AnyValue::Bool(true)));
    assert_eq!(client.attributes.get(semconv::ZIPKIN_SHARED), None);
    assert_eq!(client.status.message, "402");
    assert_eq!(client.attributes.get_str(semconv::NETWORK_PEER_ADDRESS), Some("10.0.0.7"));
    assert_eq!(client.attributes.get(semconv::NETWORK_PEER_PORT), Some(&AnyValue::Int(8443)));
    let root = span(&spans, "get /checkout");
    assert_eq!(root.attributes.get(semconv::PEER_SERVICE), None);
    assert_eq!(root.attributes.get(semconv::NETWORK_PEER_PORT), Some(&AnyValue::Int(53211)));
    assert_eq!(root.events[0].name, "cache.miss");
    // A 64-bit trace id fills the low half.
    assert_eq!(span(&spans, "consume orders").trace_id.high(), 0);
    assert_eq!(span(&spans, "consume orders").kind, SpanKind::Consumer);
    assert_reencodes(&spans);
}

#[test]
fn node_zipkin_js_v1_json_splits_nothing_but_keeps_shared_halves() {
    let spans = decode_folder("node-zipkin-js-v1-json");
    assert_eq!(check_expected("node-zipkin-js-v1-json", &spans, None), 9);
    assert_eq!(
        kinds(&spans),
        [
            ("charge card", SpanKind::Unspecified),
            ("consume orders", SpanKind::Consumer),
            ("get /checkout", SpanKind::Server),
            ("post /payments", SpanKind::Server),
            ("post /payments", SpanKind::Client),
            ("publish orders", SpanKind::Producer),
            ("render cart", SpanKind::Unspecified),
            ("select shop.orders", SpanKind::Client),
            ("store invoice", SpanKind::Unspecified),
        ]
    );
    // The server half came without timestamp: Zipkin reads it as shared and times it by sr/ss.
    let server = spans.iter().find(|s| s.name == "post /payments" && s.kind == SpanKind::Server);
    let server = server.unwrap();
    assert_eq!(server.attributes.get(semconv::ZIPKIN_SHARED), Some(&AnyValue::Bool(true)));
    assert!(server.start_time_unix_nano > 0 && server.duration_nanos() > 0);
    let db = span(&spans, "select shop.orders");
    assert_eq!(db.attributes.get_str(semconv::PEER_SERVICE), Some("postgresql"));
    // The consumer's wr at the start and mr at the end give its times.
    let consumer = span(&spans, "consume orders");
    assert_eq!(consumer.duration_nanos(), 50_000_000);
    assert_reencodes(&spans);
}

#[test]
fn node_zipkin_js_v1_thrift() {
    let spans = decode_folder("node-zipkin-js-v1-thrift");
    assert_eq!(check_expected("node-zipkin-js-v1-thrift", &spans, None), 9);
    let root = span(&spans, "get /checkout");
    assert_eq!(root.kind, SpanKind::Server);
    // zipkin-js writes binary annotation values as Latin-1 ("binary"): read them back so.
    assert_eq!(root.attributes.get_str("app.customer"), Some("Zoë Ünïcode q¬ =\u{80}"));
    // A port above 32767 arrives as a negative i16.
    assert_eq!(root.attributes.get(semconv::NETWORK_PEER_PORT), Some(&AnyValue::Int(53211)));
    // Producer and consumer carry no core annotations, and their `ma` has no key: no kind.
    assert_eq!(span(&spans, "publish orders").kind, SpanKind::Unspecified);
    let halves = spans.iter().filter(|s| s.name == "post /payments").count();
    assert_eq!(halves, 2);
    assert!(spans.iter().all(|s| s.attributes.get(semconv::ZIPKIN_DEBUG).is_none()));
    assert_reencodes(&spans);
}

fn check_py_zipkin(folder: &str, spans: &[Span]) {
    assert_eq!(check_expected(folder, spans, None), 8, "{folder}");
    assert_eq!(span(spans, "GET /cart/{id}").kind, SpanKind::Server);
    let client = span(spans, "POST /charge");
    assert_eq!(client.kind, SpanKind::Client);
    assert_eq!(client.attributes.get_str(semconv::PEER_SERVICE), Some("payments"));
    assert_eq!(client.attributes.get_str(semconv::NETWORK_PEER_ADDRESS), Some("10.9.8.7"));
    assert_eq!(span(spans, "orders publish").kind, SpanKind::Producer);
    assert_eq!(span(spans, "compute-price").events[0].name, "price.computed");
    let failed = span(spans, "validate-coupon");
    assert!(failed.status.message.starts_with("CouponExpired: coupon SPRING24"), "{folder}");
    assert_eq!(span(spans, "GET /cart/{id}").events[0].name, "cache.miss");
    assert_eq!(span(spans, "POST /orders/{id}/ship").trace_id.high(), 0);
    assert_ne!(span(spans, "GET /cart/{id}").trace_id.high(), 0);
    assert_eq!(
        span(spans, "GET /cart/{id}").attributes.get_str("user.name"),
        Some("Jürgen Müller 軌跡 🚀")
    );
    assert_reencodes(spans);
}

#[test]
fn python_py_zipkin_v2_json_and_proto() {
    for folder in ["python-pyzipkin-v2-json", "python-pyzipkin-v2-proto"] {
        let spans = decode_folder(folder);
        check_py_zipkin(folder, &spans);
        // py_zipkin encodes the span that opens a trace as SERVER, even a consumer.
        assert_eq!(span(&spans, "POST /orders/{id}/ship").kind, SpanKind::Server);
        assert_eq!(span(&spans, "orders process").kind, SpanKind::Consumer);
        assert_eq!(span(&spans, "reserve-stock").service_name(), "legacy-cart");
    }
}

#[test]
fn python_py_zipkin_v1_json_and_thrift() {
    for folder in ["python-pyzipkin-v1-json", "python-pyzipkin-v1-thrift"] {
        let spans = decode_folder(folder);
        // A local span without annotations has no endpoint in v1; it takes its parent's service.
        check_py_zipkin(folder, &spans);
        assert_eq!(span(&spans, "orders process").kind, SpanKind::Consumer);
        assert_eq!(span(&spans, "reserve-stock").service_name(), "legacy-cart");
        let client = span(&spans, "POST /charge");
        assert_eq!(client.attributes.get(semconv::NETWORK_PEER_PORT), Some(&AnyValue::Int(8080)));
        assert_eq!(client.service_name(), "legacy-cart");
    }
}

#[test]
fn python_stitched_zipkin_part() {
    let spans = decode_folder("python-stitched");
    assert_eq!(check_expected("python-stitched", &spans, Some(&["legacy-cart"])), 2);
    let server = span(&spans, "GET /cart");
    assert_eq!(server.kind, SpanKind::Server);
    // py_zipkin was told to report its own timestamp: not a shared span.
    assert_eq!(server.attributes.get(semconv::ZIPKIN_SHARED), None);
    assert_eq!(
        span(&spans, "POST /pay").attributes.get(semconv::NETWORK_PEER_PORT),
        Some(&AnyValue::Int(33627))
    );
}
