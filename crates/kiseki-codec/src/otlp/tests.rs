//! Round trips, hostile input, and agreement with the reference protobuf implementation.

use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, TraceId,
};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pb_common;
use opentelemetry_proto::tonic::trace::v1 as pb_trace;
use proptest::prelude::*;
use prost::Message;

use super::*;
use crate::limits;

fn any_str() -> impl Strategy<Value = Str> {
    prop_oneof![
        Just(Str::default()),
        "[a-z._]{1,12}".prop_map(Str::from),
        ".{0,40}".prop_map(Str::from),
    ]
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(AnyValue::Empty),
        any_str().prop_map(AnyValue::Str),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        // NaN never equals itself; every other double must survive exactly.
        any::<f64>().prop_filter("not NaN", |v| !v.is_nan()).prop_map(AnyValue::Double),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(AnyValue::Bytes),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
            proptest::collection::vec((any_str(), inner), 0..4).prop_map(|entries| {
                AnyValue::Map(
                    entries.into_iter().map(|(k, v)| KeyValue { key: k, value: v }).collect(),
                )
            }),
        ]
    })
}

fn any_attributes() -> impl Strategy<Value = Attributes> {
    proptest::collection::vec((any_str(), any_value()), 0..5)
        .prop_map(|kvs| kvs.into_iter().map(|(k, v)| KeyValue { key: k, value: v }).collect())
}

fn any_trace_id() -> impl Strategy<Value = TraceId> {
    (1u128..).prop_map(|v| TraceId::new(v).expect("non-zero"))
}

fn any_span_id() -> impl Strategy<Value = SpanId> {
    (1u64..).prop_map(|v| SpanId::new(v).expect("non-zero"))
}

fn any_event() -> impl Strategy<Value = Event> {
    (any::<u64>(), any_str(), any_attributes(), 0u32..3).prop_map(
        |(t, name, attributes, dropped)| Event {
            time_unix_nano: t,
            name,
            attributes,
            dropped_attributes_count: dropped,
        },
    )
}

fn any_link() -> impl Strategy<Value = Link> {
    (any_trace_id(), any_span_id(), any_str(), any::<u32>(), any_attributes()).prop_map(
        |(trace_id, span_id, trace_state, flags, attributes)| Link {
            trace_id,
            span_id,
            trace_state,
            flags,
            attributes,
            dropped_attributes_count: 0,
        },
    )
}

prop_compose! {
    fn any_span(resource: Arc<Resource>, scope: Arc<Scope>)(
        trace_id in any_trace_id(),
        span_id in any_span_id(),
        parent in proptest::option::of(any_span_id()),
        trace_state in any_str(),
        flags in any::<u32>(),
        name in any_str(),
        kind in proptest::sample::select(SpanKind::ALL.to_vec()),
        start in any::<u64>(),
        end in any::<u64>(),
        attributes in any_attributes(),
        events in proptest::collection::vec(any_event(), 0..3),
        links in proptest::collection::vec(any_link(), 0..2),
        dropped in (0u32..3, 0u32..3, 0u32..3),
        status_code in proptest::sample::select(vec![StatusCode::Unset, StatusCode::Ok, StatusCode::Error]),
        status_message in any_str(),
    ) -> Span {
        Span {
            trace_id, span_id, parent_span_id: parent, trace_state, flags, name, kind,
            start_time_unix_nano: start, end_time_unix_nano: end, attributes,
            dropped_attributes_count: dropped.0, events, dropped_events_count: dropped.1, links,
            dropped_links_count: dropped.2,
            status: Status { code: status_code, message: status_message },
            resource: Arc::clone(&resource), scope: Arc::clone(&scope),
        }
    }
}

fn any_batch() -> impl Strategy<Value = Vec<Span>> {
    let resource = any_attributes()
        .prop_map(|attributes| Arc::new(Resource { attributes, dropped_attributes_count: 1 }));
    let scope = (any_str(), any_str(), any_attributes()).prop_map(|(name, version, attributes)| {
        Arc::new(Scope { name, version, attributes, dropped_attributes_count: 0 })
    });
    (resource, scope).prop_flat_map(|(resource, scope)| {
        proptest::collection::vec(any_span(resource, scope), 0..4)
    })
}

proptest! {
    #[test]
    fn protobuf_round_trip(spans in any_batch()) {
        let decoded = decode_traces_proto(&encode_traces_proto(&spans)).unwrap();
        prop_assert_eq!(decoded.rejected_spans, 0);
        prop_assert_eq!(decoded.spans, spans);
    }

    #[test]
    fn json_round_trip(spans in any_batch()) {
        let decoded = decode_traces_json(&encode_traces_json(&spans)).unwrap();
        prop_assert_eq!(decoded.rejected_spans, 0);
        prop_assert_eq!(decoded.spans, spans);
    }

    /// The reference implementation (prost code generated from the .proto files) reads what we
    /// write exactly as we read it back.
    #[test]
    fn reference_decoder_agrees(spans in any_batch()) {
        let bytes = encode_traces_proto(&spans);
        let reference = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        let reencoded = reference.encode_to_vec();
        prop_assert_eq!(decode_traces_proto(&reencoded).unwrap().spans, spans);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_traces_proto(&bytes);
        let _ = decode_traces_json(&bytes);
    }

    /// Flipping bytes of a valid message must give an error or spans, never a panic.
    #[test]
    fn corrupted_messages_never_panic(spans in any_batch(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = encode_traces_proto(&spans);
        if !bytes.is_empty() {
            for (at, value) in flips {
                let len = bytes.len();
                bytes[at % len] = value;
            }
        }
        let _ = decode_traces_proto(&bytes);
    }
}

fn reference_span(
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    attributes: Vec<pb_common::KeyValue>,
) -> pb_trace::Span {
    pb_trace::Span {
        trace_id,
        span_id,
        name: "op".into(),
        kind: 2,
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        attributes,
        ..Default::default()
    }
}

fn reference_request(spans: Vec<pb_trace::Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![pb_trace::ResourceSpans {
            resource: Some(opentelemetry_proto::tonic::resource::v1::Resource {
                attributes: vec![string_kv("service.name", "cart")],
                ..Default::default()
            }),
            scope_spans: vec![pb_trace::ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn string_kv(key: &str, value: &str) -> pb_common::KeyValue {
    pb_common::KeyValue {
        key: key.into(),
        value: Some(pb_common::AnyValue {
            value: Some(pb_common::any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

#[test]
fn reads_what_the_reference_encoder_writes() {
    let body = reference_request(vec![reference_span(
        vec![1; 16],
        vec![2; 8],
        vec![string_kv("http.route", "/x")],
    )]);
    let decoded = decode_traces_proto(&body).unwrap();
    let span = &decoded.spans[0];
    assert_eq!(span.trace_id.to_string(), "01010101010101010101010101010101");
    assert_eq!(span.service_name(), "cart");
    assert_eq!(span.kind, SpanKind::Server);
    assert_eq!(span.attributes.get_str("http.route"), Some("/x"));
}

#[test]
fn bad_spans_are_rejected_one_by_one() {
    let good = reference_span(vec![1; 16], vec![2; 8], vec![]);
    let zero_trace = reference_span(vec![0; 16], vec![2; 8], vec![]);
    let short_span = reference_span(vec![1; 16], vec![2; 5], vec![]);
    let too_many = reference_span(
        vec![1; 16],
        vec![3; 8],
        (0..=limits::MAX_ATTRIBUTES).map(|i| string_kv(&format!("k{i}"), "v")).collect(),
    );
    let decoded =
        decode_traces_proto(&reference_request(vec![good, zero_trace, short_span, too_many]))
            .unwrap();
    assert_eq!(decoded.spans.len(), 1);
    assert_eq!(decoded.rejected_spans, 3);
    assert_eq!(
        decoded.rejection_message(),
        "3 spans rejected, the first because span \"op\": trace id: id is all zeros"
    );
}

#[test]
fn invalid_utf8_rejects_the_span() {
    let mut body = reference_request(vec![reference_span(
        vec![1; 16],
        vec![2; 8],
        vec![string_kv("k", "AB")],
    )]);
    // Replace the string value "AB" by two bytes that are not UTF-8.
    let at = body.windows(2).position(|w| w == b"AB").unwrap();
    body[at] = 0xff;
    body[at + 1] = 0xfe;
    let decoded = decode_traces_proto(&body).unwrap();
    assert_eq!(decoded.rejected_spans, 1);
    assert!(
        decoded.rejection_message().contains("not valid UTF-8"),
        "{}",
        decoded.rejection_message()
    );
}

#[test]
fn deep_nesting_rejects_the_span() {
    let mut value = pb_common::AnyValue { value: Some(pb_common::any_value::Value::IntValue(1)) };
    for _ in 0..=limits::MAX_VALUE_DEPTH {
        value = pb_common::AnyValue {
            value: Some(pb_common::any_value::Value::ArrayValue(pb_common::ArrayValue {
                values: vec![value],
            })),
        };
    }
    let kv = pb_common::KeyValue { key: "deep".into(), value: Some(value), ..Default::default() };
    let decoded = decode_traces_proto(&reference_request(vec![reference_span(
        vec![1; 16],
        vec![2; 8],
        vec![kv],
    )]))
    .unwrap();
    assert_eq!(decoded.rejected_spans, 1);
    assert!(decoded.rejection_message().contains("nest deeper"));
}

#[test]
fn truncated_message_is_an_error() {
    let body = reference_request(vec![reference_span(vec![1; 16], vec![2; 8], vec![])]);
    for cut in 1..body.len() {
        assert!(decode_traces_proto(&body[..cut]).is_err(), "cut at {cut} decoded");
    }
}

#[test]
fn json_accepts_what_senders_write() {
    let body = br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
      "scopeSpans":[{"scope":{"name":"lib"},"spans":[
        {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"",
         "name":"GET /","kind":"SPAN_KIND_SERVER","startTimeUnixNano":1544712660000000000,
         "endTimeUnixNano":"1544712661000000000","flags":257,
         "attributes":[{"key":"n","value":{"intValue":42}},{"key":"s","value":{"intValue":"-7"}},
                       {"key":"d","value":{"doubleValue":"NaN"}},{"key":"b","value":{"bytesValue":"AQI="}},
                       {"key":"nil","value":null}],
         "status":{"code":"STATUS_CODE_ERROR","message":"boom"},
         "events":[{"timeUnixNano":"1544712660500000000","name":"exception","attributes":null}]},
        {"trace_id":"W47/95gDgQPSabYzgT/GDA==","span_id":"7uGbfsPBsXQ=","kind":3,"status":{"code":1}}
      ]}]}]}"#;
    let decoded = decode_traces_json(body).unwrap();
    assert_eq!(decoded.rejected_spans, 0, "{}", decoded.rejection_message());
    let [server, client] = decoded.spans.as_slice() else { panic!("two spans expected") };
    assert_eq!(server.trace_id.to_string(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(server.parent_span_id, None);
    assert_eq!(server.kind, SpanKind::Server);
    assert_eq!(server.flags, 257);
    assert_eq!(server.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(server.attributes.get("n"), Some(&AnyValue::Int(42)));
    assert_eq!(server.attributes.get("s"), Some(&AnyValue::Int(-7)));
    assert!(matches!(server.attributes.get("d"), Some(AnyValue::Double(v)) if v.is_nan()));
    assert_eq!(server.attributes.get("b"), Some(&AnyValue::Bytes(vec![1, 2])));
    assert_eq!(server.attributes.get("nil"), Some(&AnyValue::Empty));
    assert_eq!(server.status, Status::error("boom"));
    assert_eq!(server.events[0].name, "exception");
    assert_eq!(server.service_name(), "web");
    // Generic protobuf JSON writes ids as base64; they are the same ids.
    assert_eq!(client.trace_id, server.trace_id);
    assert_eq!(client.span_id, server.span_id);
    assert_eq!(client.status.code, StatusCode::Ok);
}

#[test]
fn json_garbage_and_bad_values_are_errors() {
    assert!(decode_traces_json(b"not json").is_err());
    assert!(decode_traces_json(b"[1,2]").is_err());
    let bad_kind = br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"01","kind":"SIDEWAYS"}]}]}]}"#;
    let error = decode_traces_json(bad_kind).unwrap_err().to_string();
    assert!(error.contains("unknown span kind \"SIDEWAYS\""), "{error}");
    let zero_id =
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00","spanId":"01"}]}]}]}"#;
    assert_eq!(decode_traces_json(zero_id).unwrap().rejected_spans, 1);
    let empty = decode_traces_json(b"{}").unwrap();
    assert!(empty.spans.is_empty());
}

#[test]
fn responses_carry_partial_success_only_when_needed() {
    assert!(encode_response_proto(0, "").is_empty());
    assert_eq!(encode_response_json(0, ""), b"{}");
    let body = encode_response_json(2, "bad ids");
    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value["partialSuccess"]["rejectedSpans"], "2");
    let reference =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            encode_response_proto(2, "bad ids").as_slice(),
        )
        .unwrap();
    let partial = reference.partial_success.unwrap();
    assert_eq!((partial.rejected_spans, partial.error_message.as_str()), (2, "bad ids"));
}
