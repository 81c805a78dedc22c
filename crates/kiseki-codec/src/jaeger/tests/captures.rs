//! Payloads that real tracer libraries sent, decoded and checked against what they recorded.

use std::collections::HashMap;

use kiseki_model::SpanKind;
use serde_json::Value;

use super::*;

/// Checks decoded spans against what the emitter recorded: every span is there, with its trace,
/// parent, name, service and error state, and there is no other span.
fn check_expected(folder: &str, spans: &[Span]) {
    let expected: Value =
        serde_json::from_slice(&capture(&format!("{folder}/expected.json"))).unwrap();
    let by_id: HashMap<(TraceId, SpanId), &Span> =
        spans.iter().map(|span| ((span.trace_id, span.span_id), span)).collect();
    let mut count = 0;
    for trace in expected["traces"].as_array().unwrap() {
        let trace_id = TraceId::from_hex(trace["trace_id"].as_str().unwrap()).unwrap();
        for want in trace["spans"].as_array().unwrap() {
            count += 1;
            let span_id = SpanId::from_hex(want["span_id"].as_str().unwrap()).unwrap();
            let span = by_id.get(&(trace_id, span_id)).unwrap_or_else(|| {
                panic!("{folder}: span {trace_id}/{span_id} is missing");
            });
            let parent = want["parent_span_id"].as_str().map(|id| SpanId::from_hex(id).unwrap());
            assert_eq!(span.parent_span_id, parent, "{folder}: parent of {span_id}");
            assert_eq!(span.name, want["name"].as_str().unwrap(), "{folder}: name of {span_id}");
            assert_eq!(span.service_name(), want["service"].as_str().unwrap(), "{folder}");
            assert_eq!(span.is_error(), want["error"].as_bool().unwrap(), "{folder}: {span_id}");
        }
    }
    assert_eq!(spans.len(), count, "{folder}: spans that the emitter did not record");
}

fn by_name<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans.iter().find(|span| span.name == name).unwrap_or_else(|| panic!("no span {name:?}"))
}

/// Every encoder reads back what the decoder made of a capture (Thrift in whole microseconds).
fn check_round_trips(spans: &[Span]) {
    let in_micros: Vec<Span> = spans.iter().map(|span| restrict(span, true)).collect();
    for protocol in [ThriftProtocol::Binary, ThriftProtocol::Compact] {
        let bodies = encode_thrift_batch(spans, protocol);
        let decoded: Vec<Span> =
            bodies.iter().flat_map(|body| decode_thrift_batch(body, protocol).unwrap()).collect();
        assert_eq!(decoded, in_micros, "{protocol:?} batch");
    }
    let datagrams = encode_udp_emit_batch(spans, true);
    let decoded: Vec<Span> =
        datagrams.iter().flat_map(|d| decode_udp_compact(d).unwrap()).collect();
    assert_eq!(decoded, in_micros, "compact emitBatch");
    let datagrams = encode_udp_emit_batch(spans, false);
    let decoded: Vec<Span> = datagrams.iter().flat_map(|d| decode_udp_binary(d).unwrap()).collect();
    assert_eq!(decoded, in_micros, "binary emitBatch");
    assert_eq!(decode_proto_post_spans(&encode_proto_post_spans(spans)).unwrap(), spans);
}

/// What the three OpenTelemetry Python 1.21 Jaeger exporters sent for `_otel_trace.py`.
fn check_python_otel(spans: &[Span]) {
    let root = by_name(spans, "GET /checkout/{id}");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.status.code, StatusCode::Ok);
    assert_eq!(root.flags, 1);
    assert_eq!(root.attributes.get("app.cart.total"), Some(&AnyValue::Double(129.95)));
    assert_eq!(root.attributes.get("app.cart.gift"), Some(&AnyValue::Bool(true)));
    assert_eq!(root.attributes.get("app.cart.delta"), Some(&AnyValue::Int(-7)));
    assert_eq!(root.attributes.get("app.cart.big"), Some(&AnyValue::Int(1_099_511_627_777)));
    assert_eq!(root.attributes.get_str("enduser.id"), Some("Jürgen Müller 軌跡 🚀"));
    assert_eq!(root.attributes.get_str("app.cart.items"), Some("('sku-1', 'sku-ü')"));
    assert_eq!(root.attributes.get("http.response.status_code"), Some(&AnyValue::Int(200)));
    for span in spans {
        assert_eq!(
            (span.scope.name.as_str(), span.scope.version.as_str()),
            ("kiseki.interop", "0.1.0")
        );
        assert!(Arc::ptr_eq(&span.scope, &root.scope));
        assert!(Arc::ptr_eq(&span.resource, &root.resource));
        let leftovers = ["otel.library.name", "otel.scope.name", "span.kind", "otel.status_code"];
        assert!(leftovers.iter().all(|key| span.attributes.get(key).is_none()), "{}", span.name);
    }
    assert_eq!(by_name(spans, "POST").kind, SpanKind::Client);
    assert_eq!(by_name(spans, "SELECT shop.orders").kind, SpanKind::Client);
    let producer = by_name(spans, "orders publish");
    assert_eq!(producer.kind, SpanKind::Producer);

    let compute = by_name(spans, "compute-price");
    assert_eq!(compute.kind, SpanKind::Internal);
    let names: Vec<&str> = compute.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["cache.miss", "price.computed"]);
    assert_eq!(
        compute.events[0].attributes,
        attrs(&[
            ("cache.key", "sku-42".into()),
            ("cache.attempt", AnyValue::Int(2)),
            ("cache.ratio", AnyValue::Double(0.5)),
            ("cache.cold", AnyValue::Bool(true)),
            ("cache.tiers", "('l1', 'l2')".into()),
        ])
    );
    assert!(compute.events[0].time_unix_nano >= compute.start_time_unix_nano);
    assert_eq!(compute.links.len(), 1);
    assert_eq!(
        (compute.links[0].trace_id, compute.links[0].span_id),
        (producer.trace_id, producer.span_id)
    );
    assert_eq!(compute.links[0].attributes.get_str("opentracing.ref_type"), Some("follows_from"));

    let failed = by_name(spans, "validate-coupon");
    assert_eq!(failed.status.code, StatusCode::Error);
    assert_eq!(
        failed.status.message,
        "CouponExpired: coupon SPRING24 expired — gültig bis 2024-01-01"
    );
    assert_eq!(failed.events.len(), 1);
    assert_eq!(failed.events[0].name, "exception");
    assert_eq!(failed.events[0].attributes.get_str("exception.type"), Some("CouponExpired"));
    assert!(failed.attributes.get("error").is_none());

    let consumer = by_name(spans, "orders process");
    assert_eq!(consumer.kind, SpanKind::Consumer);
    assert_ne!(consumer.trace_id, producer.trace_id);
    assert_eq!(consumer.links[0].span_id, producer.span_id);
    assert_eq!(by_name(spans, "reserve-stock").parent_span_id, Some(consumer.span_id));
}

#[test]
fn python_otel_jaeger_thrift_agent_capture() {
    let folder = "python-otel-jaeger-thrift-agent";
    let spans = decode_udp_compact(&capture(&format!("{folder}/001-6831-emitBatch.body"))).unwrap();
    check_expected(folder, &spans);
    check_python_otel(&spans);
    // The process has only the service name; the exporter repeats the resource in span tags.
    assert_eq!(*spans[0].resource, Resource::for_service("checkout"));
    assert_eq!(spans[0].attributes.get_str("service.version"), Some("1.4.2"));
    check_round_trips(&spans);
}

#[test]
fn python_otel_jaeger_thrift_collector_capture() {
    let folder = "python-otel-jaeger-thrift-collector";
    let body = capture(&format!("{folder}/001-14268-api-traces.body"));
    assert_eq!(sniff_thrift_batch_protocol(&body), Some(ThriftProtocol::Binary));
    let spans = decode_thrift_batch_binary(&body).unwrap();
    check_expected(folder, &spans);
    check_python_otel(&spans);
    check_round_trips(&spans);
}

#[test]
fn python_otel_jaeger_grpc_capture() {
    let folder = "python-otel-jaeger-grpc";
    let body =
        capture(&format!("{folder}/001-14250-jaeger-api-v2-CollectorService-PostSpans.body"));
    let spans = decode_proto_post_spans(&body).unwrap();
    check_expected(folder, &spans);
    check_python_otel(&spans);
    // Each span carries the process; equal processes share one resource.
    let resource = &spans[0].resource;
    assert_eq!(resource.service_name(), "checkout");
    assert_eq!(resource.attributes.get_str("service.version"), Some("1.4.2"));
    assert_eq!(resource.attributes.get_str("deployment.environment"), Some("staging"));
    assert_eq!(resource.attributes.get_str("host.name"), Some("interop-host-1"));
    assert_eq!(resource.attributes.get_str("telemetry.sdk.language"), Some("python"));
    // Protobuf times keep their nanoseconds.
    assert!(spans.iter().any(|span| span.start_time_unix_nano % 1000 != 0));
    check_round_trips(&spans);
}

#[test]
fn python_jaeger_client_capture() {
    let folder = "python-jaeger-client";
    let spans = decode_udp_compact(&capture(&format!("{folder}/001-6831-emitBatch.body"))).unwrap();
    check_expected(folder, &spans);
    let root = by_name(&spans, "GET /stock/{sku}");
    // jaeger-client was set to 128-bit trace ids.
    assert_ne!(root.trace_id.high(), 0);
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(root.attributes.get("sampler.param"), Some(&AnyValue::Bool(true)));
    assert_eq!(root.attributes.get("stock.count"), Some(&AnyValue::Int(1_099_511_627_777)));
    assert_eq!(root.attributes.get("stock.ratio"), Some(&AnyValue::Double(0.75)));
    assert_eq!(root.events[0].name, "cache.miss");
    let resource = &root.resource.attributes;
    assert_eq!(resource.get_str("service.name"), Some("inventory"));
    assert_eq!(resource.get_str("host.name"), Some("interop-host-1"));
    assert!(resource.get("hostname").is_none());
    assert_eq!(resource.get_str("jaeger.version"), Some("Python-4.8.0"));
    assert_eq!(resource.get_str("ip"), Some("10.1.2.5"));

    // The error log (event=error, error.kind, message, stack) is an exception event.
    let failed = by_name(&spans, "validate-coupon");
    assert_eq!(failed.status, Status::error(""));
    let exception = &failed.events[0];
    assert_eq!(exception.name, "exception");
    assert_eq!(
        exception.attributes.get_str("exception.type"),
        Some("<class '__main__.CouponExpired'>")
    );
    assert!(exception.attributes.get_str("exception.message").unwrap().contains("SPRING24"));
    assert!(exception.attributes.get_str("exception.stacktrace").unwrap().contains("line 104"));

    // A follows_from span: parentSpanId names the referenced span, and the reference stays.
    let consumer = by_name(&spans, "orders process");
    let producer = by_name(&spans, "orders publish");
    assert_eq!(consumer.kind, SpanKind::Consumer);
    assert_eq!(consumer.links.len(), 1);
    assert_eq!(consumer.links[0].span_id, producer.span_id);
    assert_eq!(consumer.links[0].attributes.get_str("opentracing.ref_type"), Some("follows_from"));
    check_round_trips(&spans);
}

fn check_node_jaeger_client(folder: &str, spans: &[Span]) {
    check_expected(folder, spans);
    let root = by_name(spans, "GET /checkout");
    assert_eq!(root.kind, SpanKind::Server);
    // jaeger-client for Node sends every number as a DOUBLE tag.
    assert_eq!(root.attributes.get("app.cart.items"), Some(&AnyValue::Double(3.0)));
    assert_eq!(root.attributes.get_str("app.customer"), Some("Zoë Ünïcode 東京 🚀"));
    assert_eq!(root.attributes.get_str("app.tags"), Some(r#"["new","mobile"]"#));
    // The tracer's own host.name tag wins; the client's hostname stays as sent.
    let resource = &root.resource.attributes;
    assert_eq!(resource.get_str("host.name"), Some("interop-host"));
    assert_eq!(resource.get_str("hostname"), Some("vm"));
    assert_eq!(resource.get_str("jaeger.version"), Some("Node-3.19.0"));
    let payment = by_name(spans, "POST /payments");
    assert_eq!((payment.kind, payment.status.code), (SpanKind::Client, StatusCode::Error));
    let charge = by_name(spans, "charge card");
    assert_eq!(charge.events[0].name, "exception");
    assert_eq!(charge.events[0].attributes.get_str("exception.type"), Some("PaymentDeclinedError"));
    let consumer = by_name(spans, "orders process");
    let producer = by_name(spans, "orders publish");
    assert_eq!(consumer.parent_span_id, Some(producer.span_id));
    assert_eq!(consumer.links[0].span_id, producer.span_id);
    check_round_trips(spans);
}

#[test]
fn node_jaeger_client_udp_capture() {
    let folder = "node-jaeger-client-udp";
    let spans = decode_udp_binary(&capture(&format!("{folder}/001-6832-emitBatch.body"))).unwrap();
    check_node_jaeger_client(folder, &spans);
}

#[test]
fn node_jaeger_client_http_capture() {
    let folder = "node-jaeger-client-http";
    let body = capture(&format!("{folder}/001-14268-api-traces.body"));
    let spans = decode_thrift_batch_binary(&body).unwrap();
    check_node_jaeger_client(folder, &spans);
}

fn check_node_otel_jaeger(folder: &str, spans: &[Span]) {
    check_expected(folder, spans);
    let root = by_name(spans, "GET /checkout");
    assert_eq!(root.kind, SpanKind::Server);
    assert_eq!(
        (root.scope.name.as_str(), root.scope.version.as_str()),
        ("kiseki-interop", "1.0.0")
    );
    assert_eq!(root.attributes.get("app.cart.empty"), Some(&AnyValue::Bool(false)));
    assert_eq!(root.attributes.get_str("app.item_ids"), Some("101,202,303"));
    // The exporter leaves INTERNAL spans without a span.kind tag.
    assert_eq!(by_name(spans, "render cart").kind, SpanKind::Unspecified);
    assert_eq!(by_name(spans, "SELECT shop.orders").status.code, StatusCode::Ok);
    let charge = by_name(spans, "charge card");
    assert_eq!(charge.status, Status::error("card declined: insufficient funds"));
    assert_eq!(charge.events[0].name, "exception");
    let consumer = by_name(spans, "orders process");
    let producer = by_name(spans, "orders publish");
    assert_eq!(consumer.parent_span_id, None);
    assert_eq!(
        (consumer.links[0].trace_id, consumer.links[0].span_id),
        (producer.trace_id, producer.span_id)
    );
    check_round_trips(spans);
}

#[test]
fn node_otel_jaeger_udp_capture() {
    let folder = "node-otel-jaeger-udp";
    let spans = decode_udp_binary(&capture(&format!("{folder}/001-6832-emitBatch.body"))).unwrap();
    check_node_otel_jaeger(folder, &spans);
    assert_eq!(spans[0].resource.attributes.get_str("service.name"), Some("node-otel-jaeger-udp"));
}

#[test]
fn node_otel_jaeger_http_capture() {
    let folder = "node-otel-jaeger-http";
    let body = capture(&format!("{folder}/001-14268-api-traces.body"));
    let spans = decode_thrift_batch_binary(&body).unwrap();
    check_node_otel_jaeger(folder, &spans);
}

#[test]
fn captures_in_the_wrong_protocol_are_refused() {
    let compact = capture("python-otel-jaeger-thrift-agent/001-6831-emitBatch.body");
    assert!(decode_udp_binary(&compact).is_err());
    // A compact message header reads as two bool fields and a stop: an empty batch.
    assert_eq!(decode_thrift_batch_compact(&compact), Ok(Vec::new()));
    assert_eq!(sniff_thrift_batch_protocol(&compact), None);
    let binary = capture("node-jaeger-client-udp/001-6832-emitBatch.body");
    assert!(decode_udp_compact(&binary).is_err());
}
