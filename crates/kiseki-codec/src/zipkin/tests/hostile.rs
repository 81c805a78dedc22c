//! Hostile input: truncated, garbage, huge counts, deep nesting, invalid UTF-8, bad ids. Every
//! decoder refuses it with an error, never a panic, and without work out of proportion to the
//! bytes it was given.

use std::time::{Duration, Instant};

use kiseki_model::{AnyValue, Span, SpanId, StatusCode, TraceId};
use prost::Message;

use crate::limits::{LimitError, MAX_ATTRIBUTES, MAX_EVENTS};
use crate::zipkin::{
    DecodeError, ListOfSpans, ProtoAnnotation, ProtoSpan, ProtoTag, decode_v1_json,
    decode_v1_thrift, decode_v2_json, decode_v2_proto, encode_v2_json, encode_v2_proto,
};

fn sample_spans() -> Vec<Span> {
    let mut span = Span::new(TraceId::new(0xabc).unwrap(), SpanId::new(0xdef).unwrap());
    span.name = "GET /".into();
    span.start_time_unix_nano = 1_700_000_000_000_000_000;
    span.end_time_unix_nano = 1_700_000_000_001_000_000;
    span.attributes.push("http.route", "/");
    span.events.push(kiseki_model::Event {
        time_unix_nano: 1_700_000_000_000_500_000,
        name: "retry".into(),
        attributes: [kiseki_model::KeyValue::new("n", 1i64)].into_iter().collect(),
        dropped_attributes_count: 0,
    });
    vec![span]
}

#[test]
fn every_truncation_of_a_valid_body_is_an_error() {
    let spans = sample_spans();
    let json = encode_v2_json(&spans);
    for cut in 1..json.len() {
        assert!(decode_v2_json(&json[..cut]).is_err(), "json cut at {cut}");
    }
    let proto = encode_v2_proto(&spans);
    let mut accepted = 0;
    for cut in 1..proto.len() {
        // A protobuf prefix can end on a field boundary and be a valid, shorter message; it must
        // then still be a span with ids, or an error.
        if let Ok(decoded) = decode_v2_proto(&proto[..cut]) {
            accepted += 1;
            assert!(decoded.is_empty() || decoded[0].span_id == spans[0].span_id);
        }
    }
    assert!(accepted < proto.len() / 4, "{accepted} prefixes accepted");
}

#[test]
fn garbage_is_refused_by_every_decoder() {
    for body in [&b"hello"[..], b"\x00\x01\x02", b"{}", b"[1,2,3]", b"null", b"\xff\xfe"] {
        assert!(decode_v1_json(body).is_err(), "{body:?}");
        assert!(decode_v2_json(body).is_err(), "{body:?}");
        assert!(decode_v1_thrift(body).is_err(), "{body:?}");
    }
    assert!(decode_v2_proto(b"\x0a\xff\xff\xff\xff\x0f").is_err());
    assert!(decode_v2_proto(b"[{\"traceId\":\"1\"}]").is_err());
}

#[test]
fn empty_bodies_are_empty_lists() {
    assert!(decode_v1_json(b"").unwrap().is_empty());
    assert!(decode_v1_thrift(b"").unwrap().is_empty());
    assert!(decode_v2_json(b"").unwrap().is_empty());
    assert!(decode_v2_proto(b"").unwrap().is_empty());
    assert!(decode_v2_json(b"[]").unwrap().is_empty());
    assert!(decode_v1_json(b"[]").unwrap().is_empty());
}

#[test]
fn huge_counts_fail_fast() {
    // Thrift lists claiming 2^31 - 1 elements, at the top and inside a span.
    let started = Instant::now();
    assert!(decode_v1_thrift(&[12, 0x7f, 0xff, 0xff, 0xff, 0]).is_err());
    let mut body = vec![12, 0, 0, 0, 1, 15, 0, 6, 12, 0x7f, 0xff, 0xff, 0xff];
    body.extend_from_slice(&[0; 16]);
    assert!(decode_v1_thrift(&body).is_err());
    // A protobuf length far beyond the body.
    assert!(decode_v2_proto(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x0a]).is_err());
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn too_many_tags_or_annotations_hit_the_limits() {
    let tags: Vec<String> = (0..=MAX_ATTRIBUTES).map(|i| format!("\"k{i}\":\"v\"")).collect();
    let body = format!(r#"[{{"traceId":"1","id":"2","tags":{{{}}}}}]"#, tags.join(","));
    assert!(matches!(
        decode_v2_json(body.as_bytes()),
        Err(DecodeError::Limit(LimitError::TooManyAttributes { .. }))
    ));

    let annotations: Vec<String> =
        (0..=MAX_EVENTS).map(|i| format!(r#"{{"timestamp":{},"value":"a"}}"#, i + 1)).collect();
    let v2 = format!(r#"[{{"traceId":"1","id":"2","annotations":[{}]}}]"#, annotations.join(","));
    assert!(matches!(
        decode_v2_json(v2.as_bytes()),
        Err(DecodeError::Limit(LimitError::TooManyEvents { .. }))
    ));
    let v1 = v2.replace("\"id\":\"2\",", "\"id\":\"2\",\"name\":\"x\",");
    assert!(matches!(
        decode_v1_json(v1.as_bytes()),
        Err(DecodeError::Limit(LimitError::TooManyEvents { .. }))
    ));

    let proto = ListOfSpans {
        spans: vec![ProtoSpan {
            trace_id: vec![0, 0, 0, 0, 0, 0, 0, 1],
            id: vec![0, 0, 0, 0, 0, 0, 0, 2],
            annotations: (0..=MAX_EVENTS as u64)
                .map(|t| ProtoAnnotation { timestamp: t + 1, value: "a".into() })
                .collect(),
            ..ProtoSpan::default()
        }],
    };
    assert!(matches!(
        decode_v2_proto(&proto.encode_to_vec()),
        Err(DecodeError::Limit(LimitError::TooManyEvents { .. }))
    ));
}

/// Each annotation of a v1 span naming another service makes Zipkin's conversion consider a new
/// span; finding them must not cost the square of their number.
#[test]
fn many_services_in_one_v1_span_stay_cheap() {
    let annotations: Vec<String> = (0..MAX_EVENTS)
        .map(|i| {
            format!(r#"{{"timestamp":{},"value":"a","endpoint":{{"serviceName":"s{i}"}}}}"#, i + 1)
        })
        .collect();
    let body = format!(r#"[{{"traceId":"1","id":"2","annotations":[{}]}}]"#, annotations.join(","));
    let started = Instant::now();
    let spans = decode_v1_json(body.as_bytes()).unwrap();
    assert_eq!(spans.len(), MAX_EVENTS);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    assert!(decode_v2_json(deep.as_bytes()).is_err());
    assert!(decode_v1_json(deep.as_bytes()).is_err());
    let deep_tag = format!(
        r#"[{{"traceId":"1","id":"2","tags":{{"k":{}1{}}}}}]"#,
        "[".repeat(50),
        "]".repeat(50)
    );
    assert!(matches!(
        decode_v2_json(deep_tag.as_bytes()),
        Err(DecodeError::Limit(LimitError::TooDeep))
    ));
    // An event's attributes nested deeper than the model allows, inside an annotation string.
    let value = format!(r#"{{"e":{{"k":{}1{}}}}}"#, "[".repeat(40), "]".repeat(40));
    let body = serde_json::json!([{"traceId": "1", "id": "2",
        "annotations": [{"timestamp": 1, "value": value}]}]);
    assert!(matches!(
        decode_v2_json(body.to_string().as_bytes()),
        Err(DecodeError::Limit(LimitError::TooDeep))
    ));
    // Thrift structs nested in an unknown field of a span.
    let mut thrift = vec![12, 0, 0, 0, 1];
    for _ in 0..200 {
        thrift.extend_from_slice(&[12, 0, 99]);
    }
    assert!(decode_v1_thrift(&thrift).is_err());
}

#[test]
fn invalid_utf8_is_an_error_everywhere() {
    assert!(decode_v2_json(b"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"\xff\"}]").is_err());
    assert!(decode_v1_json(b"[{\"traceId\":\"1\",\"id\":\"2\",\"name\":\"\xc3\"}]").is_err());
    assert!(decode_v2_json(br#"[{"traceId":"1","id":"2","name":"\ud800"}]"#).is_err());
    let mut proto = ProtoSpan {
        trace_id: vec![0, 0, 0, 0, 0, 0, 0, 1],
        id: vec![0, 0, 0, 0, 0, 0, 0, 2],
        name: "ab".into(),
        ..ProtoSpan::default()
    }
    .encode_to_vec();
    let at = proto.windows(2).position(|w| w == b"ab").unwrap();
    proto[at] = 0xff;
    let mut list = vec![0x0a, proto.len() as u8];
    list.extend_from_slice(&proto);
    assert!(matches!(decode_v2_proto(&list), Err(DecodeError::Proto(_))));
    // A Thrift span name that is not UTF-8 (names are Thrift strings, unlike tag values).
    let body = [12, 0, 0, 0, 1, 11, 0, 3, 0, 0, 0, 1, 0xff, 0];
    assert!(decode_v1_thrift(&body).is_err());
}

#[test]
fn zero_and_malformed_ids_name_the_span() {
    let cases = [
        (r#"[{"traceId":"1","id":"1"},{"traceId":"0","id":"2"}]"#, "span 1: trace id is invalid"),
        (r#"[{"traceId":"1","id":"0000000000000000"}]"#, "span 0: span id is invalid"),
        (r#"[{"traceId":"xyz","id":"1"}]"#, "span 0: trace id is invalid"),
        (r#"[{"traceId":"1","id":"12345678901234567"}]"#, "span 0: span id is invalid"),
        (r#"[{"traceId":"1","id":"1","parentId":"zz"}]"#, "span 0: parent id is invalid"),
        (r#"[{"traceId":"1","id":"1","kind":"SIDEWAYS"}]"#, "span 0: kind \"SIDEWAYS\""),
        (r#"[{"traceId":"1","id":"1","tags":{"a":null}}]"#, "span 0: tag \"a\" has no value"),
        (
            r#"[{"traceId":"1","id":"1","localEndpoint":{"port":70000}}]"#,
            "span 0: port 70000 is out of range",
        ),
    ];
    for (body, start) in cases {
        let message = decode_v2_json(body.as_bytes()).unwrap_err().to_string();
        assert!(message.starts_with(start), "{message}");
    }
    let proto = |trace_id: Vec<u8>, id: Vec<u8>| {
        ListOfSpans { spans: vec![ProtoSpan { trace_id, id, ..ProtoSpan::default() }] }
            .encode_to_vec()
    };
    let error = |body: Vec<u8>| decode_v2_proto(&body).unwrap_err().to_string();
    assert_eq!(
        error(proto(vec![0; 8], vec![1; 8])),
        "span 0: trace id is invalid: id is all zeros"
    );
    assert_eq!(
        error(proto(vec![1; 5], vec![1; 8])),
        "span 0: trace id has 5 bytes, expected 8 or 16"
    );
    assert_eq!(error(proto(vec![1; 16], vec![1; 4])), "span 0: span id has 4 bytes, expected 8");
    assert_eq!(error(proto(vec![1; 16], vec![])), "span 0: span id is missing");
}

#[test]
fn lenient_where_zipkin_is() {
    // Upper-case hex, short ids, null fields, root parents written as zeros or empty, floats.
    let body = br#"[{"traceId":"ABC","id":"DEF","parentId":"0000000000000000","kind":"server",
        "name":null,"timestamp":1.7e15,"duration":1000.9,"localEndpoint":{"serviceName":"Svc",
        "ipv4":"not-an-ip","port":0},"annotations":null,"debug":null},
        {"traceId":"abc","id":"1","parentId":""}]"#;
    let spans = decode_v2_json(body).unwrap();
    assert_eq!(spans[0].trace_id, TraceId::new(0xabc).unwrap());
    assert_eq!(spans[0].parent_span_id, None);
    assert_eq!(spans[1].parent_span_id, None);
    assert_eq!(spans[0].start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(spans[0].duration_nanos(), 1_000_000);
    assert_eq!(spans[0].service_name(), "Svc");
    assert!(spans[0].attributes.is_empty());
}

#[test]
fn v2_tags_of_other_json_types_keep_their_type() {
    let body = br#"[{"traceId":"1","id":"2","tags":{"n":3,"b":true,"f":0.5,"s":"x","s":"y"}}]"#;
    let spans = decode_v2_json(body).unwrap();
    let a = &spans[0].attributes;
    assert_eq!(a.get("n"), Some(&AnyValue::Int(3)));
    assert_eq!(a.get("b"), Some(&AnyValue::Bool(true)));
    assert_eq!(a.get("f"), Some(&AnyValue::Double(0.5)));
    assert_eq!(a.get("s"), Some(&AnyValue::from("y")));
    assert_eq!(a.len(), 4);
}

#[test]
fn repeated_proto_tags_keep_the_last() {
    let tag = |k: &str, v: &str| ProtoTag { key: k.into(), value: v.into() };
    let body = ListOfSpans {
        spans: vec![ProtoSpan {
            trace_id: vec![1; 16],
            id: vec![2; 8],
            tags: vec![tag("a", "1"), tag("error", ""), tag("a", "2")],
            ..ProtoSpan::default()
        }],
    }
    .encode_to_vec();
    let spans = decode_v2_proto(&body).unwrap();
    assert_eq!(spans[0].attributes.get_str("a"), Some("2"));
    assert_eq!(spans[0].status.code, StatusCode::Error);
}
