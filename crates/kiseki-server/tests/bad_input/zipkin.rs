//! Zipkin v1 and v2 in every encoding: hostile values, and bodies of the other API version.

use kiseki_codec::zipkin;

use super::*;

#[tokio::test]
async fn zipkin_refuses_hostile_values_naming_them() {
    let mut abuse = Abuse::new();
    let limit = MAX_ATTRIBUTES.to_string();
    let too_many = ["attributes", limit.as_str()];
    let wide = vec![model_span(SPAN, "wide", MAX_ATTRIBUTES + 1)];
    let plain = vec![model_span(SPAN, MARKED_NAME, 0)];
    let v2_json = zipkin::encode_v2_json(&plain);
    let v2_proto = zipkin::encode_v2_proto(&plain);
    let span_hex = format!("{SPAN:016x}");
    abuse
        .refuse_all(vec![
            hostile(
                "v2 json: too many tags",
                ZIPKIN_V2_JSON,
                zipkin::encode_v2_json(&wide),
                LIMIT_EXCEEDED,
                &too_many,
            ),
            hostile(
                "v2 proto: too many tags",
                ZIPKIN_V2_PROTO,
                zipkin::encode_v2_proto(&wide),
                LIMIT_EXCEEDED,
                &too_many,
            ),
            hostile(
                "v1 json: too many binary annotations",
                ZIPKIN_V1_JSON,
                zipkin_v1_json(&span_hex, MAX_ATTRIBUTES + 1),
                LIMIT_EXCEEDED,
                &too_many,
            ),
            hostile(
                "v2 json: zero span id",
                ZIPKIN_V2_JSON,
                patch(&v2_json, span_hex.as_bytes(), "0".repeat(16).as_bytes()),
                MALFORMED,
                &["span id", "zero"],
            ),
            hostile(
                "v2 json: zero trace id",
                ZIPKIN_V2_JSON,
                patch(&v2_json, trace_hex().as_bytes(), "0".repeat(32).as_bytes()),
                MALFORMED,
                &["trace id", "zero"],
            ),
            hostile(
                "v2 proto: zero span id",
                ZIPKIN_V2_PROTO,
                zero_span_id(&v2_proto),
                MALFORMED,
                &["span id", "zero"],
            ),
            hostile(
                "v2 proto: zero trace id",
                ZIPKIN_V2_PROTO,
                zero_trace_id(&v2_proto),
                MALFORMED,
                &["trace id", "zero"],
            ),
            hostile(
                "v1 json: zero span id",
                ZIPKIN_V1_JSON,
                zipkin_v1_json(&"0".repeat(16), 1),
                MALFORMED,
                &["span id", "zero"],
            ),
            hostile(
                "v1 thrift: zero span id",
                ZIPKIN_V1_THRIFT,
                pyzipkin_thrift_zero_span_id(),
                MALFORMED,
                &["span id", "zero"],
            ),
            hostile(
                "v2 proto: invalid UTF-8 in the name",
                ZIPKIN_V2_PROTO,
                invalid_utf8(&v2_proto),
                MALFORMED,
                &["UTF-8"],
            ),
            hostile(
                "v2 json: invalid UTF-8 in the name",
                ZIPKIN_V2_JSON,
                invalid_utf8(&v2_json),
                MALFORMED,
                &["json"],
            ),
            hostile(
                "v1 thrift: invalid UTF-8 in a span name",
                ZIPKIN_V1_THRIFT,
                pyzipkin_thrift_invalid_name(),
                MALFORMED,
                &["UTF-8"],
            ),
            // Zipkin refuses a body of the other API version, and says where it belongs.
            hostile(
                "v2 json on the v1 endpoint",
                ZIPKIN_V1_JSON,
                capture_body("python-pyzipkin-v2-json", "zipkin"),
                MALFORMED,
                &["v2", "/api/v2/spans"],
            ),
            hostile(
                "v1 json on the v2 endpoint",
                ZIPKIN_V2_JSON,
                capture_body("python-pyzipkin-v1-json", "zipkin"),
                MALFORMED,
                &["v1", "/api/v1/spans"],
            ),
        ])
        .await;
    abuse.assert_still_serves().await;
}

/// A Zipkin v1 JSON span with `annotations` binary annotations.
fn zipkin_v1_json(span_hex: &str, annotations: usize) -> Vec<u8> {
    let endpoint = json!({"serviceName": "abuse", "ipv4": "10.0.0.1"});
    let binary: Vec<Value> = (0..annotations)
        .map(|i| json!({"key": format!("k{i}"), "value": format!("v{i}"), "endpoint": endpoint}))
        .collect();
    json!([{
        "traceId": trace_hex(),
        "id": span_hex,
        "name": "v1",
        "timestamp": START / 1000,
        "duration": 1000,
        "annotations": [
            {"timestamp": START / 1000, "value": "sr", "endpoint": endpoint},
            {"timestamp": START / 1000 + 1000, "value": "ss", "endpoint": endpoint},
        ],
        "binaryAnnotations": binary,
    }])
    .to_string()
    .into_bytes()
}

/// py_zipkin's Thrift capture with the id of `POST /charge` zeroed.
fn pyzipkin_thrift_zero_span_id() -> Vec<u8> {
    let body = capture_body("python-pyzipkin-v1-thrift", "zipkin");
    patch(&body, &0xa206_13c8_36e8_dcd2_u64.to_be_bytes(), &[0; 8])
}

/// py_zipkin's Thrift capture with the span name `POST /charge` made invalid UTF-8.
fn pyzipkin_thrift_invalid_name() -> Vec<u8> {
    let body = capture_body("python-pyzipkin-v1-thrift", "zipkin");
    patch(&body, b"POST /charge", b"\xffOST /charge")
}
