//! OTLP/HTTP and OTLP/gRPC: spans past the limits, with invalid UTF-8 or zero ids, refused one by
//! one (partial success) or, when no span is left, as a whole with a `google.rpc.Status`.

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{self as otlp_common, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan};

use super::*;

fn otlp_kv(key: &str, value: any_value::Value) -> otlp_common::KeyValue {
    otlp_common::KeyValue {
        key: key.to_owned(),
        value: Some(otlp_common::AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn otlp_span(
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    name: &str,
    attributes: Vec<otlp_common::KeyValue>,
) -> OtlpSpan {
    OtlpSpan {
        trace_id,
        span_id,
        name: name.to_owned(),
        kind: 2,
        start_time_unix_nano: START,
        end_time_unix_nano: START + 1_000_000,
        attributes,
        ..Default::default()
    }
}

fn good_otlp_span() -> OtlpSpan {
    otlp_span(trace_bytes(), GOOD_SPAN.to_be_bytes().to_vec(), "good", Vec::new())
}

fn otlp_proto(spans: Vec<OtlpSpan>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(OtlpResource {
                attributes: vec![otlp_kv(
                    "service.name",
                    any_value::Value::StringValue("abuse".into()),
                )],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn many_otlp_attributes(count: usize) -> Vec<otlp_common::KeyValue> {
    (0..count).map(|i| otlp_kv(&format!("k{i}"), any_value::Value::IntValue(i as i64))).collect()
}

/// Arrays nested `depth` deep around an integer.
fn nested_otlp_value(depth: usize) -> any_value::Value {
    let mut value = any_value::Value::IntValue(1);
    for _ in 0..depth {
        value = any_value::Value::ArrayValue(otlp_common::ArrayValue {
            values: vec![otlp_common::AnyValue { value: Some(value) }],
        });
    }
    value
}

fn otlp_json(spans: Vec<Value>) -> Vec<u8> {
    json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "abuse"}}]},
        "scopeSpans": [{"spans": spans}],
    }]})
    .to_string()
    .into_bytes()
}

fn otlp_json_span(trace_id: &str, span_id: &str, name: &str, attributes: Vec<Value>) -> Value {
    json!({
        "traceId": trace_id,
        "spanId": span_id,
        "name": name,
        "kind": 2,
        "startTimeUnixNano": START.to_string(),
        "endTimeUnixNano": (START + 1_000_000).to_string(),
        "attributes": attributes,
    })
}

fn nested_json_value(depth: usize) -> Value {
    let mut value = json!({"intValue": "1"});
    for _ in 0..depth {
        value = json!({"arrayValue": {"values": [value]}});
    }
    value
}

/// OTLP/HTTP requests whose every span breaks a rule, in protobuf and in JSON.
fn hostile_otlp_requests() -> Vec<Hostile> {
    let span_id = SPAN.to_be_bytes().to_vec();
    let span_hex = format!("{SPAN:016x}");
    let limit = MAX_ATTRIBUTES.to_string();
    let proto_span = |trace_id: Vec<u8>, span_id: Vec<u8>, name, attributes| {
        otlp_proto(vec![otlp_span(trace_id, span_id, name, attributes)])
    };
    let json_span = |trace_id: &str, span_id: &str, name, attributes| {
        otlp_json(vec![otlp_json_span(trace_id, span_id, name, attributes)])
    };
    let json_attributes: Vec<Value> = (0..=MAX_ATTRIBUTES)
        .map(|i| json!({"key": format!("k{i}"), "value": {"intValue": i.to_string()}}))
        .collect();
    let json_deep = vec![json!({"key": "deep", "value": nested_json_value(MAX_VALUE_DEPTH + 1)})];
    vec![
        hostile(
            "proto: too many attributes",
            OTLP_PROTO,
            proto_span(
                trace_bytes(),
                span_id.clone(),
                "wide",
                many_otlp_attributes(MAX_ATTRIBUTES + 1),
            ),
            LIMIT_EXCEEDED,
            &["attributes", "limit of", &limit],
        ),
        hostile(
            "proto: nested too deep",
            OTLP_PROTO,
            proto_span(
                trace_bytes(),
                span_id.clone(),
                "deep",
                vec![otlp_kv("deep", nested_otlp_value(MAX_VALUE_DEPTH + 1))],
            ),
            LIMIT_EXCEEDED,
            &["nest deeper"],
        ),
        hostile(
            "proto: invalid UTF-8 in the name",
            OTLP_PROTO,
            invalid_utf8(&proto_span(trace_bytes(), span_id.clone(), MARKED_NAME, Vec::new())),
            MALFORMED,
            &["UTF-8"],
        ),
        hostile(
            "proto: zero trace id",
            OTLP_PROTO,
            proto_span(vec![0; 16], span_id.clone(), "zero", Vec::new()),
            MALFORMED,
            &["trace id", "zero"],
        ),
        hostile(
            "proto: zero span id",
            OTLP_PROTO,
            proto_span(trace_bytes(), vec![0; 8], "zero", Vec::new()),
            MALFORMED,
            &["span id", "zero"],
        ),
        hostile(
            "json: too many attributes",
            OTLP_JSON,
            json_span(&trace_hex(), &span_hex, "wide", json_attributes),
            LIMIT_EXCEEDED,
            &["attributes", "limit of", &limit],
        ),
        hostile(
            "json: nested too deep",
            OTLP_JSON,
            json_span(&trace_hex(), &span_hex, "deep", json_deep),
            LIMIT_EXCEEDED,
            &["nest deeper"],
        ),
        hostile(
            "json: zero trace id",
            OTLP_JSON,
            json_span(&"0".repeat(32), &span_hex, "zero", Vec::new()),
            MALFORMED,
            &["trace id", "zero"],
        ),
        hostile(
            "json: zero span id",
            OTLP_JSON,
            json_span(&trace_hex(), &"0".repeat(16), "zero", Vec::new()),
            MALFORMED,
            &["span id", "zero"],
        ),
        // JSON that is not UTF-8 cannot be read at all.
        hostile(
            "json: invalid UTF-8",
            OTLP_JSON,
            invalid_utf8(&json_span(&trace_hex(), &span_hex, MARKED_NAME, Vec::new())),
            MALFORMED,
            &["json"],
        ),
    ]
}

#[tokio::test]
async fn otlp_http_refuses_requests_of_only_bad_spans_with_a_status_body() {
    let mut abuse = Abuse::new();
    abuse.refuse_all(hostile_otlp_requests()).await;
    abuse.assert_still_serves().await;
}

#[tokio::test]
async fn otlp_limits_are_exact() {
    let abuse = Abuse::new();
    let span_id = SPAN.to_be_bytes().to_vec();
    let at_limit = otlp_proto(vec![
        otlp_span(trace_bytes(), span_id.clone(), "wide", many_otlp_attributes(MAX_ATTRIBUTES)),
        otlp_span(
            trace_bytes(),
            GOOD_SPAN.to_be_bytes().to_vec(),
            "deep",
            vec![otlp_kv("deep", nested_otlp_value(MAX_VALUE_DEPTH))],
        ),
    ]);
    let reply =
        abuse.send("otlp_http", post("/v1/traces", "application/x-protobuf", at_limit)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let response = ExportTraceServiceResponse::decode(reply.body).expect("export response");
    assert_eq!(response.partial_success.map_or(0, |p| p.rejected_spans), 0);
    let trace = abuse.server.trace(&trace_hex()).await.expect("stored");
    assert_eq!(trace.len(), 2);
}

#[tokio::test]
async fn otlp_http_accepts_the_good_spans_of_a_mixed_request() {
    let abuse = Abuse::new();
    let bad_span = |name: &str| otlp_span(trace_bytes(), vec![0; 8], name, Vec::new());
    // Protobuf: one good span, two bad ones.
    let body = otlp_proto(vec![bad_span("bad 1"), good_otlp_span(), bad_span("bad 2")]);
    let reply = abuse.send("otlp_http", post("/v1/traces", "application/x-protobuf", body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/x-protobuf");
    let partial = ExportTraceServiceResponse::decode(reply.body.clone())
        .expect("export response")
        .partial_success
        .expect("partial_success");
    assert_eq!(partial.rejected_spans, 2);
    assert_names("proto partial success", &partial.error_message, &["2 spans", "span id", "zero"]);

    // JSON: the answer is JSON too.
    let good =
        otlp_json_span(&trace_hex(), &format!("{:016x}", GOOD_SPAN + 1), "good 2", Vec::new());
    let bad = otlp_json_span(&trace_hex(), "not hex at all!!", "bad 3", Vec::new());
    let reply = abuse
        .send("otlp_http", post("/v1/traces", "application/json", otlp_json(vec![good, bad])))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.content_type(), "application/json");
    let json = reply.json();
    let rejected = &json["partialSuccess"]["rejectedSpans"];
    assert!(rejected == "1" || rejected == 1, "{json}");
    let message = json["partialSuccess"]["errorMessage"].as_str().unwrap_or_default();
    assert_names("json partial success", message, &["1 span", "bad 3", "hex"]);

    let trace = abuse.server.trace(&trace_hex()).await.expect("the good spans are stored");
    let mut names: Vec<&str> = trace.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["good", "good 2"]);
    let metrics = abuse.server.metrics().await;
    let labels = |format| [("receiver", "otlp_http"), ("format", format)];
    assert_eq!(metrics.sum("kiseki_receiver_spans_rejected_total", &labels("otlp_proto")), 2);
    assert_eq!(metrics.sum("kiseki_receiver_spans_rejected_total", &labels("otlp_json")), 1);
    assert_eq!(metrics.sum("kiseki_receiver_spans_total", &[("receiver", "otlp_http")]), 2);
    assert_eq!(metrics.sum("kiseki_receiver_requests_total", &[("receiver", "otlp_http")]), 2);
    // Accepted requests are not rejections.
    abuse.assert_counted().await;
}

#[tokio::test]
async fn otlp_grpc_refuses_bad_messages_with_invalid_argument() {
    let mut abuse = Abuse::new();
    for case in hostile_otlp_requests().into_iter().filter(|case| case.target == OTLP_PROTO) {
        let words: Vec<&str> = case.words.iter().map(String::as_str).collect();
        let request = grpc_request(OTLP_EXPORT, &case.body, false);
        let (what, reason) = (&case.what, case.reason);
        abuse.refused_grpc(what, "otlp_grpc", request, INVALID_ARGUMENT, reason, &words).await;
    }
    // Mixed: OK with partial success.
    let body =
        otlp_proto(vec![good_otlp_span(), otlp_span(trace_bytes(), vec![0; 8], "bad", Vec::new())]);
    let reply = abuse.server.grpc("otlp_grpc", grpc_request(OTLP_EXPORT, &body, false)).await;
    assert_eq!(reply.code, Some(OK), "{}", reply.message);
    let partial = ExportTraceServiceResponse::decode(reply.message_bytes)
        .expect("export response")
        .partial_success
        .expect("partial_success");
    assert_eq!(partial.rejected_spans, 1);
    assert_names("grpc partial success", &partial.error_message, &["span id", "zero"]);
    abuse.assert_still_serves().await;
}
