//! Payloads that real Datadog tracers sent (testdata/tracers/*), decoded and checked against
//! what each emitter says it created, then carried through both encoders and back.

use std::path::{Path, PathBuf};

use kiseki_model::{AnyValue, Span, SpanKind, StatusCode, TraceId, semconv};
use serde_json::Value;

use super::super::*;

const TRACERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tracers");

/// One captured trace request.
struct Capture {
    name: String,
    format: Format,
    headers: TracerHeaders,
    body: Vec<u8>,
}

fn folder(name: &str) -> PathBuf {
    Path::new(TRACERS).join(name)
}

/// Every Datadog trace request in a capture folder, in capture order.
fn captures(name: &str) -> Vec<Capture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(folder(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let file = path.file_name().unwrap().to_string_lossy();
            file.contains("-8126-") && file.ends_with("-traces.json")
        })
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "{name} has no Datadog trace request");
    paths
        .into_iter()
        .map(|json_path| {
            let request: Value =
                serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
            let header = |wanted: &str| {
                request["headers"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(wanted))
                    .map(|(_, value)| value.as_str().unwrap().to_owned())
                    .unwrap_or_default()
            };
            let path = request["path"].as_str().unwrap();
            let format = match path {
                "/v0.5/traces" => Format::V05,
                "/v0.7/traces" => Format::V07,
                _ if header("content-type").contains("json") => Format::V04Json,
                _ => Format::V04Msgpack,
            };
            let headers = TracerHeaders {
                language: header("datadog-meta-lang").into(),
                language_version: header("datadog-meta-lang-version").into(),
                tracer_version: header("datadog-meta-tracer-version").into(),
                container_id: header("datadog-container-id").into(),
            };
            let body = std::fs::read(json_path.with_extension("body")).unwrap();
            let name = json_path.file_name().unwrap().to_string_lossy().into_owned();
            Capture { name, format, headers, body }
        })
        .collect()
}

fn decode_folder(name: &str) -> Vec<Span> {
    captures(name)
        .iter()
        .flat_map(|capture| {
            decode(capture.format, &capture.body, &capture.headers)
                .unwrap_or_else(|e| panic!("{name}/{}: {e}", capture.name))
        })
        .collect()
}

/// Every span the emitter reports (of the given services, or all) is decoded with the same
/// 128-bit trace id, parent, name, service and error flag.
fn assert_matches_expected(name: &str, spans: &[Span], services: &[&str]) {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(folder(name).join("expected.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    for trace in expected["traces"].as_array().unwrap() {
        let trace_id = TraceId::from_hex(trace["trace_id"].as_str().unwrap()).unwrap();
        for want in trace["spans"].as_array().unwrap() {
            let service = want["service"].as_str().unwrap();
            if !services.is_empty() && !services.contains(&service) {
                continue;
            }
            let span_id = want["span_id"].as_str().unwrap();
            let span = spans
                .iter()
                .find(|span| span.span_id.to_string() == span_id)
                .unwrap_or_else(|| panic!("{name}: span {span_id} is missing"));
            assert_eq!(span.trace_id, trace_id, "{name}: trace of {span_id}");
            assert_eq!(
                span.parent_span_id.map(|id| id.to_string()),
                want["parent_span_id"].as_str().map(str::to_owned),
                "{name}: parent of {span_id}"
            );
            assert_eq!(span.name, want["name"].as_str().unwrap(), "{name}: name of {span_id}");
            assert_eq!(span.service_name(), service, "{name}: service of {span_id}");
            assert_eq!(
                span.is_error(),
                want["error"].as_bool().unwrap(),
                "{name}: error of {span_id}"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "{name}: nothing checked");
}

fn by_name<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans.iter().find(|span| span.name == name).unwrap_or_else(|| panic!("no span {name}"))
}

fn double(span: &Span, key: &str) -> Option<f64> {
    match span.attributes.get(key) {
        Some(AnyValue::Double(value)) => Some(*value),
        _ => None,
    }
}

/// Decoding, encoding with either encoder and decoding again gives the same spans.
fn assert_round_trips(name: &str) {
    for capture in captures(name) {
        let spans = decode(capture.format, &capture.body, &capture.headers).unwrap();
        let v04 =
            decode(Format::V04Msgpack, &encode_v04_msgpack(&spans), &capture.headers).unwrap();
        assert_eq!(v04, spans, "{name}/{} through v0.4", capture.name);
        let v05 = decode(Format::V05, &encode_v05(&spans), &capture.headers).unwrap();
        assert_eq!(v05, spans, "{name}/{} through v0.5", capture.name);
    }
}

/// What both ddtrace (Python) captures share: trace 1 of `shop-api` with a `shop-db` span.
fn assert_python_ddtrace(name: &str, spans: &[Span]) {
    assert_matches_expected(name, spans, &[]);
    assert_eq!(spans.len(), 8);

    let root = by_name(spans, "web.request");
    assert!(root.is_root());
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.attributes.get_str(semconv::DATADOG_RESOURCE), Some("GET /checkout/{id}"));
    assert_eq!(root.attributes.get_str(semconv::DATADOG_SPAN_TYPE), Some("web"));
    assert_eq!(root.attributes.get(semconv::SAMPLING_PRIORITY), Some(&AnyValue::Int(2)));
    assert_eq!(root.attributes.get_str("_dd.p.dm"), Some("-4"));
    assert_eq!(root.attributes.get_str("usr.name"), Some("Jürgen Müller 軌跡 🚀"));
    assert_eq!(double(root, "cart.total"), Some(129.95));
    assert_eq!(double(root, "cart.delta"), Some(-7.0));
    assert_eq!(root.attributes.get("_dd.p.tid"), None);
    let resource = &root.resource.attributes;
    assert_eq!(resource.get_str(semconv::SERVICE_NAME), Some("shop-api"));
    assert_eq!(resource.get_str(semconv::DEPLOYMENT_ENVIRONMENT_NAME), Some("staging"));
    assert_eq!(resource.get_str(semconv::SERVICE_VERSION), Some("1.4.2"));
    assert_eq!(resource.get_str(semconv::HOST_NAME), Some("interop-host-1"));
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_LANGUAGE), Some("python"));
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_VERSION), Some("4.16.0"));

    let client = by_name(spans, "http.request");
    assert_eq!(client.kind, SpanKind::Client);
    assert_eq!(client.attributes.get_str(semconv::DATADOG_SPAN_TYPE), Some("http"));
    assert_eq!(client.attributes.get_str("peer.service"), Some("payments"));
    assert!(std::sync::Arc::ptr_eq(&client.resource, &root.resource));

    let db = by_name(spans, "postgres.query");
    assert_eq!(db.kind, SpanKind::Client);
    assert_eq!(db.attributes.get_str(semconv::DATADOG_SPAN_TYPE), Some("sql"));
    assert_eq!(
        db.attributes.get_str(semconv::DATADOG_RESOURCE),
        Some("SELECT id, total FROM orders WHERE id = $1")
    );
    assert_eq!(db.service_name(), "shop-db");
    assert_eq!(db.resource.attributes.get(semconv::SERVICE_VERSION), None);
    assert_eq!(db.resource.attributes.get_str(semconv::HOST_NAME), Some("interop-host-1"));

    assert_eq!(by_name(spans, "kafka.produce").kind, SpanKind::Producer);

    let failed = by_name(spans, "coupon.validate");
    assert_eq!(failed.status.code, StatusCode::Error);
    assert_eq!(failed.status.message, "coupon SPRING24 expired — gültig bis 2024-01-01");
    let exception = failed.events.last().unwrap();
    assert_eq!(exception.name, "exception");
    assert_eq!(exception.time_unix_nano, failed.end_time_unix_nano);
    assert_eq!(
        exception.attributes.get_str("exception.type"),
        Some("_ddtrace_trace.CouponExpired")
    );
    assert!(exception.attributes.get_str("exception.stacktrace").unwrap().starts_with("Traceback"));
    assert_eq!(failed.attributes.get("error.message"), None);

    // record_exception on a span that did not fail: an event with typed attributes, no error.
    let priced = by_name(spans, "compute-price");
    assert_eq!(priced.status.code, StatusCode::Unset);
    let recorded = &priced.events[0];
    assert_eq!(recorded.name, "exception");
    assert_eq!(recorded.attributes.get_str("exception.type"), Some("builtins.KeyError"));
    assert_eq!(recorded.attributes.get("cache.attempt"), Some(&AnyValue::Int(2)));
    assert_eq!(recorded.attributes.get("cache.cold"), Some(&AnyValue::Bool(true)));
    assert_eq!(
        recorded.attributes.get("cache.tiers"),
        Some(&AnyValue::Array(vec![AnyValue::from("l1"), AnyValue::from("l2")]))
    );
    assert!(recorded.time_unix_nano > priced.start_time_unix_nano);
    assert!(recorded.time_unix_nano < priced.end_time_unix_nano);
    let producer = by_name(spans, "kafka.produce");
    let link = &priced.links[0];
    assert_eq!((link.trace_id, link.span_id), (producer.trace_id, producer.span_id));
    assert_eq!(link.attributes.get_str("link.reason"), Some("published-before-pricing"));
    assert_eq!(link.trace_state, "dd=s:2;t.dm:-4");
    assert_eq!(link.flags, 1);

    let consumer = by_name(spans, "kafka.consume");
    assert_eq!(consumer.kind, SpanKind::Consumer);
    assert_eq!(consumer.attributes.get(semconv::SAMPLING_PRIORITY), Some(&AnyValue::Int(1)));
    assert_eq!(consumer.links[0].span_id, producer.span_id);
    assert_eq!(by_name(spans, "reserve-stock").trace_id, consumer.trace_id);
}

#[test]
fn python_ddtrace_v04() {
    let spans = decode_folder("python-ddtrace-v04");
    assert_python_ddtrace("python-ddtrace-v04", &spans);
    assert_round_trips("python-ddtrace-v04");
}

#[test]
fn python_ddtrace_v04_native_events() {
    let spans = decode_folder("python-ddtrace-v04-native-events");
    assert_python_ddtrace("python-ddtrace-v04-native-events", &spans);
    assert_round_trips("python-ddtrace-v04-native-events");
}

#[test]
fn python_ddtrace_v05() {
    let spans = decode_folder("python-ddtrace-v05");
    assert_python_ddtrace("python-ddtrace-v05", &spans);
    assert_round_trips("python-ddtrace-v05");
}

/// What the three dd-trace (Node) captures share.
fn assert_node_dd_trace(name: &str, service: &str) {
    let spans = decode_folder(name);
    assert_matches_expected(name, &spans, &[]);
    assert_eq!(spans.len(), 8);

    let root = by_name(&spans, "web.request");
    assert!(root.is_root(), "parent_id 0 is a root");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.status.code, StatusCode::Unset);
    assert_eq!(root.attributes.get(semconv::SAMPLING_PRIORITY), Some(&AnyValue::Int(2)));
    assert_eq!(double(root, "app.cart.items"), Some(3.0), "integer metrics become doubles");
    assert_eq!(double(root, "app.cart.empty"), Some(0.0));
    assert_eq!(double(root, "manual.keep"), Some(1.0));
    assert_eq!(double(root, "app.cart.total"), Some(42.5));
    assert_eq!(root.attributes.get_str("app.customer"), Some("Zoë Ünïcode 東京 🚀"));
    assert_eq!(root.attributes.get_str(semconv::DATADOG_RESOURCE), Some("GET /checkout"));
    let resource = &root.resource.attributes;
    assert_eq!(resource.get_str(semconv::SERVICE_NAME), Some(service));
    assert_eq!(resource.get_str(semconv::DEPLOYMENT_ENVIRONMENT_NAME), Some("interop"));
    assert_eq!(resource.get_str(semconv::SERVICE_VERSION), Some("1.4.2"));
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_LANGUAGE), Some("nodejs"));
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_VERSION), Some("5.132.0"));
    assert_eq!(resource.get_str(semconv::PROCESS_RUNTIME_VERSION), Some("v20.20.2"));

    let cache_miss = &root.events[0];
    assert_eq!(cache_miss.name, "cache.miss");
    assert_eq!(cache_miss.attributes.get_str("cache.key"), Some("cart:42"));
    assert_eq!(cache_miss.attributes.get("cache.attempt"), Some(&AnyValue::Int(1)));
    assert_eq!(cache_miss.attributes.get("cache.cold"), Some(&AnyValue::Bool(true)));
    // Native events carry the time as a float64; it is exact to the float's precision.
    assert!(cache_miss.time_unix_nano.abs_diff(root.start_time_unix_nano) < 100_000_000);

    let db = by_name(&spans, "postgres.query");
    assert_eq!(db.service_name(), format!("{service}-postgres"));
    assert_eq!(db.kind, SpanKind::Client);
    assert_eq!(double(db, "network.destination.port"), Some(5432.0));

    let declined = by_name(&spans, "charge.card");
    assert_eq!(declined.status.code, StatusCode::Error);
    assert_eq!(declined.status.message, "card declined: insufficient funds");
    let exception = declined.events.last().unwrap();
    assert_eq!(exception.attributes.get_str("exception.type"), Some("PaymentDeclinedError"));
    assert!(
        exception.attributes.get_str("exception.stacktrace").unwrap().contains("at Object.run")
    );
    let payments = by_name(&spans, "http.request");
    assert_eq!(payments.status.code, StatusCode::Error);
    assert!(payments.events.is_empty(), "an error without details has no exception event");
    assert_eq!(payments.kind, SpanKind::Client);

    let consumer = by_name(&spans, "kafka.consume");
    let producer = by_name(&spans, "kafka.produce");
    assert_eq!(consumer.links.len(), 1);
    assert_eq!(
        (consumer.links[0].trace_id, consumer.links[0].span_id),
        (producer.trace_id, producer.span_id)
    );
    assert_eq!(consumer.links[0].attributes.get_str("link.reason"), Some("message"));
    assert_eq!(consumer.attributes.get(semconv::SAMPLING_PRIORITY), Some(&AnyValue::Int(1)));
    assert_round_trips(name);
}

#[test]
fn node_dd_trace_v04() {
    assert_node_dd_trace("node-dd-trace", "node-dd-trace");
}

#[test]
fn node_dd_trace_native_events() {
    assert_node_dd_trace("node-dd-trace-native-events", "node-dd-trace-native-events");
}

#[test]
fn node_dd_trace_v05() {
    assert_node_dd_trace("node-dd-trace-v05", "node-dd-trace-v05");
}

/// One trace across OpenTelemetry, py_zipkin and ddtrace: the ddtrace part continues the
/// 128-bit trace id that came in B3 headers, and its root is the child of the Zipkin client span.
#[test]
fn python_stitched_ddtrace_part() {
    let spans = decode_folder("python-stitched");
    assert_eq!(spans.len(), 2);
    assert_matches_expected("python-stitched", &spans, &["payments", "payments-db"]);
    assert_round_trips("python-stitched");
}
