//! Resource names of spans that real tracers sent (the frozen captures under
//! `testdata/tracers/`), decoded with kiseki's own codecs: every format names the same operations
//! the same way, whatever the tracer called its spans.

use std::path::PathBuf;

use kiseki_codec::{datadog, jaeger, otlp, zipkin};
use kiseki_model::Span;
use kiseki_pipeline::stats::{StatsAggregator, resource_name};

fn body(folder: &str, file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tracers")
        .join(folder)
        .join(file);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// `span name → resource name` of every span, sorted.
fn names(spans: &[Span]) -> Vec<String> {
    let mut names: Vec<String> =
        spans.iter().map(|s| format!("{} → {}", s.name, resource_name(s))).collect();
    names.sort();
    names
}

/// What the Node OpenTelemetry emitter sent, in any OpenTelemetry-shaped format.
const NODE_OTEL: [&str; 8] = [
    "GET /checkout → GET /checkout",
    "POST /payments → POST /payments",
    "SELECT shop.orders → SELECT orders",
    "charge card → charge card",
    "orders process → process orders",
    "orders publish → publish orders",
    "render cart → render cart",
    "store invoice → store invoice",
];

#[test]
fn node_opentelemetry_over_otlp() {
    let spans =
        otlp::decode_traces_proto(&body("node-otel-otlp-http-proto", "001-4318-v1-traces.body"))
            .unwrap()
            .spans;
    assert_eq!(names(&spans), NODE_OTEL);
}

#[test]
fn node_opentelemetry_over_jaeger_thrift() {
    let spans = jaeger::decode_thrift_batch_binary(&body(
        "node-otel-jaeger-http",
        "001-14268-api-traces.body",
    ))
    .unwrap();
    assert_eq!(names(&spans), NODE_OTEL);
}

#[test]
fn python_opentelemetry_client_span_without_route_gets_its_path() {
    let spans =
        otlp::decode_traces_proto(&body("python-otel-otlp-http", "001-4318-v1-traces.body"))
            .unwrap()
            .spans;
    assert_eq!(
        names(&spans),
        [
            "GET /checkout/{id} → GET /checkout/{id}",
            "POST → POST /charge",
            "SELECT shop.orders → SELECT orders",
            "compute-price → compute-price",
            "orders process → process orders",
            "orders publish → publish orders",
            "reserve-stock → reserve-stock",
            "validate-coupon → validate-coupon",
        ]
    );
}

#[test]
fn datadog_tracers_keep_their_resources_and_statements_are_summarised() {
    let node =
        datadog::decode_v04_msgpack(&body("node-dd-trace", "001-8126-v0-4-traces.body")).unwrap();
    assert_eq!(
        names(&node),
        [
            "charge.card → charge card",
            "http.request → POST /payments",
            "kafka.consume → orders",
            "kafka.produce → orders",
            "postgres.query → SELECT orders",
            "render.cart → cart.html",
            "store.invoice → store invoice",
            "web.request → GET /checkout",
        ]
    );
    let python =
        datadog::decode_v04_msgpack(&body("python-ddtrace-v04", "001-8126-v0-4-traces.body"))
            .unwrap();
    assert_eq!(
        names(&python),
        [
            "compute-price → compute-price",
            "coupon.validate → validate-coupon",
            "http.request → POST /charge",
            "kafka.consume → Consume Topic orders",
            "kafka.produce → Produce Topic orders",
            "postgres.query → SELECT orders",
            "reserve-stock → reserve-stock",
            "web.request → GET /checkout/{id}",
        ]
    );
}

#[test]
fn zipkin_js_spans_get_method_and_path_and_statement_family() {
    let spans =
        zipkin::decode_v2_json(&body("node-zipkin-js-v2-json", "001-9411-api-v2-spans.body"))
            .unwrap();
    assert_eq!(
        names(&spans),
        [
            "charge card → charge card",
            "consume orders → consume orders",
            "get /checkout → GET /checkout",
            "post /payments → POST /payments",
            "post /payments → post /payments",
            "publish orders → publish orders",
            "render cart → render cart",
            "select shop.orders → SELECT orders",
            "store invoice → store invoice",
        ]
    );
}

/// (resource, kind, status, environment, version) of every key, sorted.
fn keys(spans: &[Span]) -> Vec<String> {
    let mut stats = StatsAggregator::default();
    spans.iter().for_each(|span| stats.record(span));
    let mut keys: Vec<String> = stats
        .buckets()
        .flat_map(|bucket| bucket.entries())
        .map(|(key, figures)| {
            assert_eq!(figures.count, 1);
            format!(
                "{} {:?} {:?} {} {}",
                key.resource, key.span_kind, key.status, key.environment, key.version
            )
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn one_emitter_gets_the_same_keys_over_otlp_jaeger_and_zipkin() {
    let otlp =
        otlp::decode_traces_proto(&body("node-otel-otlp-http-proto", "001-4318-v1-traces.body"))
            .unwrap()
            .spans;
    let expected = [
        "GET /checkout Server Unset interop 1.4.2",
        "POST /payments Client Error interop 1.4.2",
        "SELECT orders Client Ok interop 1.4.2",
        "charge card Internal Error interop 1.4.2",
        "process orders Consumer Unset interop 1.4.2",
        "publish orders Producer Unset interop 1.4.2",
        "render cart Internal Unset interop 1.4.2",
        "store invoice Internal Unset interop 1.4.2",
    ];
    assert_eq!(keys(&otlp), expected);
    let jaeger = jaeger::decode_thrift_batch_binary(&body(
        "node-otel-jaeger-http",
        "001-14268-api-traces.body",
    ))
    .unwrap();
    assert_eq!(keys(&jaeger), expected);
    let zipkin =
        zipkin::decode_v2_json(&body("node-otel-zipkin", "001-9411-api-v2-spans.body")).unwrap();
    assert_eq!(keys(&zipkin), expected);
}
