//! The Jaeger query JSON of a hand-checked trace, of edge cases and of a real capture.

use kiseki_model::SpanKind;
use serde_json::{Value, json};

use super::*;

#[test]
fn query_json_matches_the_hand_checked_trace() {
    let shop = Arc::new(Resource {
        attributes: attrs(&[("service.name", "shop".into()), ("host.name", "h1".into())]),
        dropped_attributes_count: 0,
    });
    // Equal to `shop` but another Arc: still one process.
    let shop_again = Arc::new((*shop).clone());
    let db = Arc::new(Resource::for_service("db"));
    let scope = Arc::new(Scope { name: "lib".into(), version: "1.2".into(), ..Scope::default() });

    let trace_id = TraceId::new(0x00ab_cdef).unwrap();
    let mut root = Span::new(trace_id, SpanId::new(1).unwrap());
    root.name = "GET /".into();
    root.kind = SpanKind::Server;
    root.flags = 1;
    root.start_time_unix_nano = 1_700_000_000_123_456_789;
    root.end_time_unix_nano = 1_700_000_000_125_456_000;
    root.status = Status { code: StatusCode::Ok, message: "".into() };
    root.resource = shop.clone();
    root.scope = scope;
    root.attributes = attrs(&[
        ("http.response.status_code", AnyValue::Int(200)),
        ("big", AnyValue::Int(1 << 60)),
        ("ratio", AnyValue::Double(0.25)),
        ("list", AnyValue::Array(vec!["a".into(), AnyValue::Int(2)])),
        ("jaeger.debug", AnyValue::Bool(true)),
    ]);
    root.trace_state = "k=v".into();

    let mut child = Span::new(trace_id, SpanId::new(0x0a0b).unwrap());
    child.parent_span_id = SpanId::new(1);
    child.name = "SELECT".into();
    child.kind = SpanKind::Client;
    child.start_time_unix_nano = 1_700_000_000_124_000_000;
    child.end_time_unix_nano = 1_700_000_000_124_500_000;
    child.status = Status::error("timeout");
    child.resource = db;
    child.attributes = attrs(&[("blob", AnyValue::Bytes(vec![0, 0, 0x30, 0x39]))]);
    child.events.push(Event {
        time_unix_nano: 1_700_000_000_124_400_999,
        name: "exception".into(),
        attributes: attrs(&[("exception.type", "Timeout".into())]),
        dropped_attributes_count: 0,
    });
    child.links.push(Link {
        trace_id: TraceId::from_halves(5, 6).unwrap(),
        span_id: SpanId::new(7).unwrap(),
        trace_state: "".into(),
        flags: 0,
        attributes: Attributes::new(),
        dropped_attributes_count: 0,
    });

    let mut sibling = Span::new(trace_id, SpanId::new(3).unwrap());
    sibling.parent_span_id = SpanId::new(1);
    sibling.name = "render".into();
    sibling.start_time_unix_nano = 1_700_000_000_124_000_000;
    sibling.end_time_unix_nano = 1_700_000_000_123_000_000;
    sibling.resource = shop_again;

    let expected = json!({
        "traceID": "0000000000abcdef",
        "spans": [
            {
                "traceID": "0000000000abcdef",
                "spanID": "0000000000000001",
                "flags": 3,
                "operationName": "GET /",
                "references": [],
                "startTime": 1_700_000_000_123_456u64,
                "duration": 1_999,
                "tags": [
                    { "key": "otel.scope.name", "type": "string", "value": "lib" },
                    { "key": "otel.scope.version", "type": "string", "value": "1.2" },
                    { "key": "http.response.status_code", "type": "int64", "value": 200 },
                    { "key": "big", "type": "int64", "value": "1152921504606846976" },
                    { "key": "ratio", "type": "float64", "value": 0.25 },
                    { "key": "list", "type": "string", "value": "[\"a\",2]" },
                    { "key": "span.kind", "type": "string", "value": "server" },
                    { "key": "otel.status_code", "type": "string", "value": "OK" },
                    { "key": "w3c.tracestate", "type": "string", "value": "k=v" }
                ],
                "logs": [],
                "processID": "p1",
                "warnings": null
            },
            {
                "traceID": "0000000000abcdef",
                "spanID": "0000000000000a0b",
                "operationName": "SELECT",
                "references": [
                    { "refType": "CHILD_OF", "traceID": "0000000000abcdef", "spanID": "0000000000000001" },
                    {
                        "refType": "FOLLOWS_FROM",
                        "traceID": "00000000000000050000000000000006",
                        "spanID": "0000000000000007"
                    }
                ],
                "startTime": 1_700_000_000_124_000u64,
                "duration": 500,
                "tags": [
                    { "key": "blob", "type": "binary", "value": "AAAwOQ==" },
                    { "key": "span.kind", "type": "string", "value": "client" },
                    { "key": "otel.status_code", "type": "string", "value": "ERROR" },
                    { "key": "error", "type": "bool", "value": true },
                    { "key": "otel.status_description", "type": "string", "value": "timeout" }
                ],
                "logs": [
                    {
                        "timestamp": 1_700_000_000_124_400u64,
                        "fields": [
                            { "key": "event", "type": "string", "value": "exception" },
                            { "key": "exception.type", "type": "string", "value": "Timeout" }
                        ]
                    }
                ],
                "processID": "p2",
                "warnings": null
            },
            {
                "traceID": "0000000000abcdef",
                "spanID": "0000000000000003",
                "operationName": "render",
                "references": [
                    { "refType": "CHILD_OF", "traceID": "0000000000abcdef", "spanID": "0000000000000001" }
                ],
                "startTime": 1_700_000_000_124_000u64,
                "duration": 0,
                "tags": [],
                "logs": [],
                "processID": "p1",
                "warnings": null
            }
        ],
        "processes": {
            "p1": {
                "serviceName": "shop",
                "tags": [ { "key": "host.name", "type": "string", "value": "h1" } ]
            },
            "p2": { "serviceName": "db", "tags": [] }
        },
        "warnings": null
    });
    let spans = vec![root, child, sibling];
    assert_eq!(query_json::trace_to_json(&spans), expected);

    let response = query_json::traces_response(&[spans]);
    assert_eq!(response["data"][0], expected);
    assert_eq!(response["errors"], Value::Null);
    assert_eq!(
        (&response["total"], &response["limit"], &response["offset"]),
        (&json!(0), &json!(0), &json!(0))
    );
}

#[test]
fn query_json_edge_cases() {
    let empty = query_json::trace_to_json(&[]);
    assert_eq!(empty, json!({ "traceID": "", "spans": [], "processes": {}, "warnings": null }));
    assert_eq!(query_json::traces_response(&[])["data"], json!([]));
    assert_eq!(
        query_json::error_response(404, "trace not found"),
        json!({
            "data": null, "total": 0, "limit": 0, "offset": 0,
            "errors": [{ "code": 404, "msg": "trace not found" }]
        })
    );
    let mut span = sample_span();
    span.trace_id = TraceId::from_halves(1, 2).unwrap();
    span.resource = Arc::default();
    span.attributes =
        attrs(&[("nan", AnyValue::Double(f64::NAN)), ("small", AnyValue::Int(-(1 << 53) + 1))]);
    let json = query_json::trace_to_json(&[span]);
    assert_eq!(json["traceID"], "00000000000000010000000000000002");
    assert_eq!(json["spans"][0]["tags"][0]["value"], "NaN");
    assert_eq!(json["spans"][0]["tags"][1]["value"], json!(-(1i64 << 53) + 1));
    assert_eq!(json["processes"]["p1"]["serviceName"], "unknown_service");
}

#[test]
fn query_json_of_a_real_capture() {
    let body = capture("python-jaeger-client/001-6831-emitBatch.body");
    let spans = decode_udp_compact(&body).unwrap();
    let json = query_json::trace_to_json(&spans);
    // A 128-bit trace id: all 32 hex digits.
    assert_eq!(json["traceID"], spans[0].trace_id.to_string());
    assert_ne!(spans[0].trace_id.high(), 0);
    assert_eq!(json["processes"].as_object().unwrap().len(), 1);
    assert_eq!(json["processes"]["p1"]["serviceName"], "inventory");
    let root = json["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["operationName"] == "GET /stock/{sku}")
        .unwrap();
    assert_eq!(root["references"], json!([]));
    assert_eq!(root["flags"], 1);
    let consumer = json["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["operationName"] == "orders process")
        .unwrap();
    let ref_types: Vec<&str> = consumer["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["refType"].as_str().unwrap())
        .collect();
    assert_eq!(ref_types, ["CHILD_OF", "FOLLOWS_FROM"]);
}
