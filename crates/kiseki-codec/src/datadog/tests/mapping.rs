//! Mapping rules, each on a small hand-built payload.

use std::sync::Arc;

use kiseki_model::{
    AnyValue, Event, Link, Resource, Scope, Span, SpanId, SpanKind, StatusCode, TraceId, semconv,
};

use super::super::*;
use super::support::{Mp, decode_one_trace, map, s, span_map, strings, v04};

fn only(spans: Vec<Span>) -> Span {
    assert_eq!(spans.len(), 1);
    spans.into_iter().next().unwrap()
}

#[test]
fn root_span_with_every_zero_field_omitted() {
    let span = only(decode_one_trace(vec![map(vec![
        ("trace_id", Mp::U(7)),
        ("span_id", Mp::U(9)),
        ("name", s("web.request")),
        ("service", s("shop")),
    ])]));
    assert_eq!(span.trace_id, TraceId::new(7).unwrap());
    assert_eq!(span.span_id, SpanId::new(9).unwrap());
    assert!(span.is_root());
    assert_eq!(span.status.code, StatusCode::Unset);
    assert_eq!(span.kind, SpanKind::Unspecified);
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (0, 0));
    assert_eq!(span.name, "web.request");
    assert_eq!(span.service_name(), "shop");
    // The agent sets an empty resource to the name; there is no type.
    assert_eq!(span.attributes.get_str(semconv::DATADOG_RESOURCE), Some("web.request"));
    assert_eq!(span.attributes.get(semconv::DATADOG_SPAN_TYPE), None);
    assert!(span.events.is_empty() && span.links.is_empty());
}

#[test]
fn fields_map_to_the_model() {
    let span = only(decode_one_trace(vec![span_map(
        5,
        6,
        vec![
            ("parent_id", Mp::U(4)),
            ("type", s("sql")),
            ("start", Mp::U(1_700_000_000_000_000_000)),
            ("duration", Mp::U(1_500)),
            ("meta", strings(&[("db.system", "postgresql"), ("team", "a")])),
            ("metrics", map(vec![("rows", Mp::F64(2.5))])),
        ],
    )]));
    assert_eq!(span.parent_span_id, SpanId::new(4));
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_000_001_500);
    assert_eq!(span.attributes.get_str(semconv::DATADOG_RESOURCE), Some("res"));
    assert_eq!(span.attributes.get_str(semconv::DATADOG_SPAN_TYPE), Some("sql"));
    assert_eq!(span.attributes.get_str("db.system"), Some("postgresql"));
    assert_eq!(span.attributes.get("rows"), Some(&AnyValue::Double(2.5)));
    // Datadog's own mapping gives `sql` no kind.
    assert_eq!(span.kind, SpanKind::Unspecified);
}

#[test]
fn integer_metrics_and_sampling_priority() {
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![(
            "metrics",
            map(vec![
                ("_sampling_priority_v1", Mp::U(2)),
                ("cart.items", Mp::U(3)),
                ("delta", Mp::I64(-7)),
                ("ratio", Mp::F32(0.5)),
                ("missing", Mp::Nil),
            ]),
        )],
    )]));
    assert_eq!(span.attributes.get(semconv::SAMPLING_PRIORITY), Some(&AnyValue::Int(2)));
    assert_eq!(span.attributes.get("_sampling_priority_v1"), None);
    assert_eq!(span.attributes.get("cart.items"), Some(&AnyValue::Double(3.0)));
    assert_eq!(span.attributes.get("delta"), Some(&AnyValue::Double(-7.0)));
    assert_eq!(span.attributes.get("ratio"), Some(&AnyValue::Double(0.5)));
    assert_eq!(span.attributes.get("missing"), Some(&AnyValue::Double(0.0)));
    let negative = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![("metrics", map(vec![("_sampling_priority_v1", Mp::F64(-1.0))]))],
    )]));
    assert_eq!(negative.attributes.get(semconv::SAMPLING_PRIORITY), Some(&AnyValue::Int(-1)));
}

#[test]
fn ids_as_signed_integers_and_floats() {
    let span = only(decode_one_trace(vec![map(vec![
        ("trace_id", Mp::F64(12_345.0)),
        ("span_id", Mp::I64(-1)),
        ("parent_id", Mp::F32(16.0)),
        ("start", Mp::F64(1e9)),
        ("duration", Mp::I64(10)),
    ])]));
    assert_eq!(span.trace_id.low(), 12_345);
    assert_eq!(span.span_id.get(), u64::MAX);
    assert_eq!(span.parent_span_id.map(SpanId::get), Some(16));
    assert_eq!(span.start_time_unix_nano, 1_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_000_000_010);
}

#[test]
fn negative_times_are_clamped_and_the_end_saturates() {
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![("start", Mp::I64(-5)), ("duration", Mp::I64(-3))],
    )]));
    assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (0, 0));
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![("start", Mp::I64(i64::MAX)), ("duration", Mp::I64(i64::MAX))],
    )]));
    assert_eq!(span.end_time_unix_nano, (i64::MAX as u64) * 2);
}

#[test]
fn trace_id_high_on_a_non_first_span_applies_to_the_whole_chunk() {
    let tid = |value: &str| ("meta", strings(&[("_dd.p.tid", value)]));
    let body = v04(vec![
        vec![
            span_map(10, 1, vec![]),
            span_map(10, 2, vec![("parent_id", Mp::U(1)), tid("6b023ada00000000")]),
            span_map(10, 3, vec![("parent_id", Mp::U(1))]),
        ],
        // A later chunk of the same trace without the tag: the payload knows it.
        vec![span_map(10, 4, vec![("parent_id", Mp::U(3))])],
        vec![span_map(11, 5, vec![])],
        // Not 16 hex digits: not an id, kept as it was sent.
        vec![span_map(12, 6, vec![tid("xyz")])],
    ]);
    let spans = decode_v04_msgpack(&body).unwrap();
    let expected = TraceId::from_halves(0x6b02_3ada_0000_0000, 10).unwrap();
    for span in &spans[..4] {
        assert_eq!(span.trace_id, expected, "span {}", span.span_id);
        assert_eq!(span.attributes.get("_dd.p.tid"), None);
    }
    assert_eq!(spans[4].trace_id, TraceId::new(11).unwrap());
    assert_eq!(spans[5].trace_id, TraceId::new(12).unwrap());
    assert_eq!(spans[5].attributes.get_str("_dd.p.tid"), Some("xyz"));
}

#[test]
fn error_fields_become_status_and_an_exception_event() {
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![
            ("error", Mp::U(1)),
            (
                "meta",
                strings(&[
                    ("error.message", "card declined"),
                    ("error.type", "PaymentError"),
                    ("error.stack", "at charge()"),
                    ("other", "kept"),
                ]),
            ),
        ],
    )]));
    assert_eq!(span.status.code, StatusCode::Error);
    assert_eq!(span.status.message, "card declined");
    let exception = Event {
        time_unix_nano: 1_500,
        name: "exception".into(),
        attributes: [
            ("exception.message", "card declined"),
            ("exception.type", "PaymentError"),
            ("exception.stacktrace", "at charge()"),
        ]
        .into_iter()
        .map(|(k, v)| kiseki_model::KeyValue::new(k, v))
        .collect(),
        dropped_attributes_count: 0,
    };
    assert_eq!(span.events, vec![exception]);
    for key in ["error.message", "error.type", "error.stack"] {
        assert_eq!(span.attributes.get(key), None, "{key}");
    }
    assert_eq!(span.attributes.get_str("other"), Some("kept"));
}

#[test]
fn error_msg_and_errors_without_details() {
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![("error", Mp::Bool(true)), ("meta", strings(&[("error.msg", "boom")]))],
    )]));
    assert_eq!(span.status.message, "boom");
    assert_eq!(span.events[0].attributes.get_str("exception.message"), Some("boom"));

    let bare = only(decode_one_trace(vec![span_map(1, 2, vec![("error", Mp::U(1))])]));
    assert_eq!(bare.status.code, StatusCode::Error);
    assert_eq!(bare.status.message, "");
    assert!(bare.events.is_empty());

    // A recorded but handled exception: an event, no error status.
    let handled = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![("meta", strings(&[("error.type", "Timeout")]))],
    )]));
    assert_eq!(handled.status.code, StatusCode::Unset);
    assert_eq!(handled.events[0].attributes.get_str("exception.type"), Some("Timeout"));
}

#[test]
fn kind_comes_from_span_kind_then_type() {
    let kind = |meta: &[(&str, &str)], span_type: &str| {
        let mut extra = vec![("meta", strings(meta))];
        if !span_type.is_empty() {
            extra.push(("type", s(span_type)));
        }
        only(decode_one_trace(vec![span_map(1, 2, extra)]))
    };
    assert_eq!(kind(&[("span.kind", "producer")], "web").kind, SpanKind::Producer);
    assert_eq!(kind(&[("span.kind", "CONSUMER")], "").kind, SpanKind::Consumer);
    assert_eq!(kind(&[], "web").kind, SpanKind::Server);
    assert_eq!(kind(&[], "http").kind, SpanKind::Client);
    for other in ["sql", "db", "redis", "cache", "worker", "custom", ""] {
        assert_eq!(kind(&[], other).kind, SpanKind::Unspecified, "{other}");
    }
    let odd = kind(&[("span.kind", "broker")], "http");
    assert_eq!(odd.kind, SpanKind::Client);
    assert_eq!(odd.attributes.get_str("span.kind"), Some("broker"));
    assert_eq!(kind(&[("span.kind", "server")], "").attributes.get("span.kind"), None);
}

#[test]
fn resources_are_shared_and_hostname_is_chunk_wide() {
    let meta = |pairs: &[(&str, &str)]| ("meta", strings(pairs));
    let body = v04(vec![
        vec![
            span_map(
                1,
                1,
                vec![meta(&[("env", "prod"), ("version", "1.2"), ("_dd.hostname", "h1")])],
            ),
            span_map(1, 2, vec![meta(&[("env", "prod"), ("version", "1.2")])]),
            map(vec![
                ("service", s("db")),
                ("trace_id", Mp::U(1)),
                ("span_id", Mp::U(3)),
                ("meta", strings(&[("env", "prod")])),
            ]),
        ],
        vec![span_map(2, 4, vec![meta(&[("env", "prod"), ("version", "1.2")])])],
    ]);
    let spans = decode_v04_msgpack(&body).unwrap();
    assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
    let resource = &spans[0].resource.attributes;
    assert_eq!(resource.get_str(semconv::SERVICE_NAME), Some("svc"));
    assert_eq!(resource.get_str(semconv::DEPLOYMENT_ENVIRONMENT_NAME), Some("prod"));
    assert_eq!(resource.get_str(semconv::SERVICE_VERSION), Some("1.2"));
    assert_eq!(resource.get_str(semconv::HOST_NAME), Some("h1"));
    for key in ["env", "version", "_dd.hostname"] {
        assert_eq!(spans[0].attributes.get(key), None);
    }
    let db = &spans[2].resource.attributes;
    assert_eq!(db.get_str(semconv::SERVICE_NAME), Some("db"));
    assert_eq!(db.get_str(semconv::HOST_NAME), Some("h1"));
    assert_eq!(db.get(semconv::SERVICE_VERSION), None);
    // The second chunk names no host.
    assert_eq!(spans[3].resource.attributes.get(semconv::HOST_NAME), None);
    assert!(Arc::ptr_eq(&spans[0].scope, &spans[3].scope));
}

#[test]
fn tracer_headers_describe_the_sdk() {
    let headers = TracerHeaders {
        language: ".NET".into(),
        language_version: "8.0".into(),
        tracer_version: "3.1.0".into(),
        container_id: "abc".into(),
    };
    let spans =
        decode(Format::V04Msgpack, &v04(vec![vec![span_map(1, 2, vec![])]]), &headers).unwrap();
    let resource = &spans[0].resource.attributes;
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_NAME), Some("datadog"));
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_LANGUAGE), Some("dotnet"));
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_VERSION), Some("3.1.0"));
    assert_eq!(resource.get_str(semconv::PROCESS_RUNTIME_VERSION), Some("8.0"));
    assert_eq!(resource.get_str(semconv::CONTAINER_ID), Some("abc"));
}

#[test]
fn nil_values_and_unknown_keys() {
    let body = Mp::A(vec![Mp::A(vec![
        Mp::Nil,
        map(vec![
            ("trace_id", Mp::U(1)),
            ("span_id", Mp::U(2)),
            ("service", Mp::Nil),
            ("parent_id", Mp::Nil),
            ("error", Mp::Nil),
            ("meta", map(vec![("k", Mp::Nil), ("b", Mp::Bin(b"bytes".to_vec()))])),
            ("metrics", Mp::Nil),
            ("meta_struct", map(vec![("appsec", Mp::Bin(vec![0x80]))])),
            (
                "future",
                Mp::A(vec![map(vec![("x", Mp::A(vec![Mp::F32(1.0), Mp::Raw(vec![0xd4, 1, 2])]))])]),
            ),
        ]),
    ])])
    .encode();
    let span = only(decode_v04_msgpack(&body).unwrap());
    assert!(span.is_root());
    assert_eq!(span.status.code, StatusCode::Unset);
    assert_eq!(span.attributes.get_str("k"), Some(""));
    assert_eq!(span.attributes.get_str("b"), Some("bytes"));
    assert_eq!(span.attributes.get("meta_struct"), None);
    assert_eq!(span.attributes.get("future"), None);
}

#[test]
fn repeated_meta_keys_keep_the_last_value() {
    let meta = Mp::M(vec![(s("a"), s("1")), (s("b"), s("2")), (s("a"), s("3"))]);
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![("meta", meta), ("metrics", map(vec![("a", Mp::U(9)), ("c", Mp::U(1))]))],
    )]));
    assert_eq!(span.attributes.get_str("a"), Some("3"));
    assert_eq!(span.attributes.iter().filter(|kv| kv.key == "a").count(), 1);
    assert_eq!(span.attributes.get("c"), Some(&AnyValue::Double(1.0)));
}

#[test]
fn zero_ids_are_refused_with_their_location() {
    let error =
        decode_v04_msgpack(&v04(vec![vec![span_map(1, 1, vec![]), span_map(0, 2, vec![])]]))
            .unwrap_err();
    assert_eq!(error.to_string(), "trace 0, span 1, field \"trace_id\": trace_id is zero");
    let error = decode_v04_msgpack(&v04(vec![vec![], vec![map(vec![("trace_id", Mp::U(3))])]]))
        .unwrap_err();
    assert_eq!(error.to_string(), "trace 1, span 0, field \"span_id\": span_id is zero");
}

#[test]
fn meta_must_be_strings() {
    let error = decode_v04_msgpack(&v04(vec![vec![span_map(
        1,
        2,
        vec![("meta", map(vec![("count", Mp::U(3))]))],
    )]]))
    .unwrap_err();
    assert!(error.to_string().starts_with("trace 0, span 0, field \"meta\", byte "), "{error}");
    assert!(error.to_string().ends_with("expected a string, found an integer"), "{error}");
}

#[test]
fn native_and_json_events_and_links() {
    let native_event = map(vec![
        ("name", s("cache.miss")),
        ("time_unix_nano", Mp::F64(1_500.0)),
        (
            "attributes",
            map(vec![
                ("key", map(vec![("type", Mp::U(0)), ("string_value", s("cart"))])),
                ("cold", map(vec![("type", Mp::U(1)), ("bool_value", Mp::Bool(true))])),
                ("attempt", map(vec![("type", Mp::U(2)), ("int_value", Mp::U(3))])),
                ("ratio", map(vec![("type", Mp::U(3)), ("double_value", Mp::F64(0.25))])),
                (
                    "tiers",
                    map(vec![
                        ("type", Mp::U(4)),
                        (
                            "array_value",
                            map(vec![(
                                "values",
                                Mp::A(vec![map(vec![
                                    ("type", Mp::U(0)),
                                    ("string_value", s("l1")),
                                ])]),
                            )]),
                        ),
                    ]),
                ),
            ]),
        ),
    ]);
    let native_link = map(vec![
        ("trace_id", Mp::U(10)),
        ("trace_id_high", Mp::U(0xab)),
        ("span_id", Mp::U(11)),
        ("attributes", strings(&[("reason", "retry")])),
        ("tracestate", s("dd=s:1")),
        ("flags", Mp::U(0x8000_0001)),
    ]);
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![
            ("span_events", Mp::A(vec![native_event])),
            ("span_links", Mp::A(vec![native_link])),
            (
                "meta",
                strings(&[
                    ("events", r#"[{"name":"first","time_unix_nano":1000,"attributes":{"n":1}}]"#),
                    (
                        "_dd.span_links",
                        r#"[{"trace_id":"000000000000000a0000000000000001","span_id":"0000000000000003"}]"#,
                    ),
                ]),
            ),
        ],
    )]));
    assert_eq!(span.events.len(), 2);
    assert_eq!(span.events[0].name, "first");
    assert_eq!(span.events[0].attributes.get("n"), Some(&AnyValue::Int(1)));
    let native = &span.events[1];
    assert_eq!((native.name.as_str(), native.time_unix_nano), ("cache.miss", 1_500));
    assert_eq!(native.attributes.get_str("key"), Some("cart"));
    assert_eq!(native.attributes.get("cold"), Some(&AnyValue::Bool(true)));
    assert_eq!(native.attributes.get("attempt"), Some(&AnyValue::Int(3)));
    assert_eq!(native.attributes.get("ratio"), Some(&AnyValue::Double(0.25)));
    assert_eq!(native.attributes.get("tiers"), Some(&AnyValue::Array(vec![AnyValue::from("l1")])));
    assert_eq!(
        span.links,
        vec![
            Link {
                trace_id: TraceId::from_halves(0xab, 10).unwrap(),
                span_id: SpanId::new(11).unwrap(),
                trace_state: "dd=s:1".into(),
                flags: 1,
                attributes: [kiseki_model::KeyValue::new("reason", "retry")].into_iter().collect(),
                dropped_attributes_count: 0,
            },
            Link {
                trace_id: TraceId::from_halves(10, 1).unwrap(),
                span_id: SpanId::new(3).unwrap(),
                trace_state: "".into(),
                flags: 0,
                attributes: Default::default(),
                dropped_attributes_count: 0,
            },
        ]
    );
    assert_eq!(span.attributes.get("events"), None);
    assert_eq!(span.attributes.get("_dd.span_links"), None);
}

#[test]
fn meta_json_that_does_not_parse_stays_an_attribute() {
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![("meta", strings(&[("events", "not json"), ("_dd.span_links", "[{}]")]))],
    )]));
    assert_eq!(span.attributes.get_str("events"), Some("not json"));
    assert_eq!(span.attributes.get_str("_dd.span_links"), Some("[{}]"));
    assert!(span.events.is_empty() && span.links.is_empty());
}

#[test]
fn otel_facts_in_meta_return_to_their_fields() {
    let span = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![(
            "meta",
            strings(&[
                ("otel.status_code", "OK"),
                ("w3c.tracestate", "dd=s:1,foo=bar"),
                ("otel.scope.name", "lib"),
                ("otel.scope.version", "2.0"),
            ]),
        )],
    )]));
    assert_eq!(span.status.code, StatusCode::Ok);
    assert_eq!(span.trace_state, "dd=s:1,foo=bar");
    assert_eq!(
        *span.scope,
        Scope { name: "lib".into(), version: "2.0".into(), ..Scope::default() }
    );
    assert!(
        span.attributes
            .iter()
            .all(|kv| !kv.key.starts_with("otel.") && !kv.key.starts_with("w3c."))
    );
    // On a failed span the status code tag contradicts nothing and stays.
    let failed = only(decode_one_trace(vec![span_map(
        1,
        2,
        vec![
            ("error", Mp::U(1)),
            (
                "meta",
                strings(&[("otel.status_code", "OK"), ("otel.status_description", "timeout")]),
            ),
        ],
    )]));
    assert_eq!(failed.status.code, StatusCode::Error);
    assert_eq!(failed.status.message, "timeout");
    assert_eq!(failed.attributes.get_str("otel.status_code"), Some("OK"));
}

#[test]
fn v05_string_table_and_layout() {
    let table = Mp::A(["", "svc", "op", "res", "env", "prod", "count", "web"].map(s).to_vec());
    let span = |meta: Mp, type_index: u64| {
        Mp::A(vec![
            Mp::U(1),
            Mp::U(2),
            Mp::U(3),
            Mp::U(100),
            Mp::U(200),
            Mp::U(0),
            Mp::U(5_000),
            Mp::U(10),
            Mp::U(0),
            meta,
            Mp::M(vec![(Mp::U(6), Mp::U(4))]),
            Mp::U(type_index),
        ])
    };
    let good = Mp::A(vec![
        table.clone(),
        Mp::A(vec![Mp::A(vec![span(Mp::M(vec![(Mp::U(4), Mp::U(5))]), 7)])]),
    ]);
    let decoded = only(decode_v05(&good.encode()).unwrap());
    assert_eq!(decoded.name, "op");
    assert_eq!(decoded.service_name(), "svc");
    assert_eq!(
        decoded.resource.attributes.get_str(semconv::DEPLOYMENT_ENVIRONMENT_NAME),
        Some("prod")
    );
    assert_eq!(decoded.attributes.get("count"), Some(&AnyValue::Double(4.0)));
    assert_eq!(decoded.kind, SpanKind::Server);

    let out_of_range = Mp::A(vec![
        table.clone(),
        Mp::A(vec![Mp::A(vec![span(Mp::M(vec![(Mp::U(4), Mp::U(8))]), 7)])]),
    ]);
    let error = decode_v05(&out_of_range.encode()).unwrap_err();
    assert!(
        matches!(
            error,
            DecodeError::Malformed { problem: Problem::StringIndex { index: 8, len: 8 }, at } if at.field == Some("meta") && at.span == Some(0)
        ),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains("string index 8 is out of range, the string table has 8 entries")
    );

    let short = Mp::A(vec![table.clone(), Mp::A(vec![Mp::A(vec![Mp::A(vec![Mp::U(1); 11])])])]);
    assert!(matches!(
        decode_v05(&short.encode()).unwrap_err(),
        DecodeError::Malformed { problem: Problem::SpanArrayLength(11), .. }
    ));
    let three = Mp::A(vec![table.clone(), Mp::A(vec![]), Mp::Nil]);
    assert!(matches!(
        decode_v05(&three.encode()).unwrap_err(),
        DecodeError::Malformed { problem: Problem::PayloadArrayLength(3), .. }
    ));
    let negative_index = Mp::A(vec![table, Mp::A(vec![Mp::A(vec![span(Mp::M(vec![]), 7)])])]);
    let mut bytes = negative_index.encode();
    // Make the type index the negative fixint -1.
    let last = bytes.len() - 1;
    bytes[last] = 0xff;
    assert!(decode_v05(&bytes).unwrap_err().to_string().contains("expected a string table index"));
}

fn v07(payload: Vec<(&str, Mp)>) -> Vec<u8> {
    map(payload).encode()
}

#[test]
fn v07_chunk_priority_origin_tags_and_payload_fields() {
    let child = span_map(1, 2, vec![("parent_id", Mp::U(1))]);
    let own_priority =
        span_map(1, 3, vec![("metrics", map(vec![("_sampling_priority_v1", Mp::U(1))]))]);
    let body = v07(vec![
        ("container_id", s("ctr")),
        ("language_name", s("go")),
        ("language_version", s("go1.22")),
        ("tracer_version", s("1.60.0")),
        ("runtime_id", s("uuid")),
        ("env", s("staging")),
        ("hostname", s("box")),
        ("app_version", s("9")),
        ("tags", strings(&[("_dd.tags.container", "image:x")])),
        (
            "chunks",
            Mp::A(vec![
                Mp::Nil,
                map(vec![
                    ("priority", Mp::I64(2)),
                    ("origin", s("synthetics")),
                    ("tags", strings(&[("chunk.tag", "yes")])),
                    ("dropped_trace", Mp::Bool(false)),
                    ("spans", Mp::A(vec![span_map(1, 1, vec![]), child, own_priority])),
                    ("unknown", Mp::A(vec![Mp::U(1)])),
                ]),
            ]),
        ),
        ("apm_mode", s("full")),
    ]);
    let spans = decode_v07(&body).unwrap();
    assert_eq!(spans.len(), 3);
    let priority = |span: &Span| span.attributes.get(semconv::SAMPLING_PRIORITY).cloned();
    assert_eq!(priority(&spans[0]), Some(AnyValue::Int(2)));
    assert_eq!(priority(&spans[1]), None, "the chunk's priority is its roots'");
    assert_eq!(priority(&spans[2]), Some(AnyValue::Int(1)), "a span's own priority wins");
    for span in &spans {
        assert_eq!(span.attributes.get_str("_dd.origin"), Some("synthetics"));
        assert_eq!(span.attributes.get_str("chunk.tag"), Some("yes"));
    }
    let resource = &spans[0].resource.attributes;
    let expected: Vec<(&str, &str)> = vec![
        (semconv::SERVICE_NAME, "svc"),
        (semconv::DEPLOYMENT_ENVIRONMENT_NAME, "staging"),
        (semconv::SERVICE_VERSION, "9"),
        (semconv::HOST_NAME, "box"),
        (semconv::TELEMETRY_SDK_NAME, "datadog"),
        (semconv::TELEMETRY_SDK_LANGUAGE, "go"),
        (semconv::TELEMETRY_SDK_VERSION, "1.60.0"),
        (semconv::PROCESS_RUNTIME_VERSION, "go1.22"),
        (semconv::CONTAINER_ID, "ctr"),
        (semconv::SERVICE_INSTANCE_ID, "uuid"),
        ("_dd.tags.container", "image:x"),
    ];
    let actual: Vec<(&str, &str)> =
        resource.iter().map(|kv| (kv.key.as_str(), kv.value.as_str().unwrap())).collect();
    assert_eq!(actual, expected);
}

#[test]
fn v07_values_in_the_body_win_over_headers() {
    let body = v07(vec![
        ("language_name", s("python")),
        ("chunks", Mp::A(vec![map(vec![("spans", Mp::A(vec![span_map(1, 1, vec![])]))])])),
    ]);
    let headers = TracerHeaders {
        language: "java".into(),
        tracer_version: "1.0".into(),
        ..Default::default()
    };
    let spans = decode(Format::V07, &body, &headers).unwrap();
    let resource = &spans[0].resource.attributes;
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_LANGUAGE), Some("python"));
    assert_eq!(resource.get_str(semconv::TELEMETRY_SDK_VERSION), Some("1.0"));
}

#[test]
fn json_bodies_are_as_lenient_as_msgpack() {
    let body = br#"[[{"trace_id": 1.0, "span_id": -1, "parent_id": null, "name": "op", "service": "svc",
        "start": 100, "duration": 5.0, "error": 1, "type": "web",
        "meta": {"error.message": "x", "nothing": null, "span.kind": "client"},
        "metrics": {"_sampling_priority_v1": 2, "f": 1.5, "n": null},
        "span_links": [{"trace_id": 5, "span_id": 6, "flags": 2147483649}],
        "span_events": [{"name": "e", "time_unix_nano": 7, "attributes": {"a": {"type": 2, "int_value": 4}}}],
        "unknown": {"deep": [[[]]]}}], null, [null]]"#;
    for decoded in [decode_v04_json(body).unwrap(), decode_v03_json(body).unwrap()] {
        let span = only(decoded);
        assert_eq!(span.trace_id.low(), 1);
        assert_eq!(span.span_id.get(), u64::MAX);
        assert!(span.is_root());
        assert_eq!(span.end_time_unix_nano, 105);
        assert_eq!(span.status.code, StatusCode::Error);
        assert_eq!(span.kind, SpanKind::Client);
        assert_eq!(span.attributes.get(semconv::SAMPLING_PRIORITY), Some(&AnyValue::Int(2)));
        assert_eq!(span.attributes.get("n"), Some(&AnyValue::Double(0.0)));
        assert_eq!(span.attributes.get_str("nothing"), Some(""));
        assert_eq!(span.links[0].flags, 1);
        assert_eq!(span.events[0].attributes.get("a"), Some(&AnyValue::Int(4)));
        assert_eq!(span.events[1].name, "exception");
    }
    let error = decode_v04_json(br#"[[{"trace_id": 1.5, "span_id": 1}]]"#).unwrap_err();
    assert!(
        error.to_string().starts_with("invalid json: number does not fit in a 64-bit id"),
        "{error}"
    );
    let error =
        decode_v04_json(br#"[[{"trace_id": 1, "span_id": 1, "meta": {"a": 1}}]]"#).unwrap_err();
    assert!(matches!(error, DecodeError::Json(_)));
}

#[test]
fn v03_msgpack_is_v04() {
    let body = v04(vec![vec![span_map(1, 2, vec![])]]);
    assert_eq!(decode_v03_msgpack(&body).unwrap(), decode_v04_msgpack(&body).unwrap());
}

// Encoding.

fn otel_span(kind: SpanKind, attributes: &[(&str, AnyValue)]) -> Span {
    let mut span = Span::new(
        TraceId::from_halves(0x0102_0304_0506_0708, 0x1112_1314_1516_1718).unwrap(),
        SpanId::new(0x21).unwrap(),
    );
    span.name = "HTTP GET".into();
    span.kind = kind;
    span.start_time_unix_nano = 1_000;
    span.end_time_unix_nano = 3_000;
    for (key, value) in attributes {
        span.attributes.push(*key, value.clone());
    }
    let mut resource = Resource::for_service("checkout");
    resource.attributes.push(semconv::DEPLOYMENT_ENVIRONMENT, "prod");
    resource.attributes.push(semconv::HOST_NAME, "node-1");
    resource.attributes.push(semconv::TELEMETRY_SDK_LANGUAGE, "rust");
    resource.attributes.push("k8s.pod.name", "pod-1");
    span.resource = Arc::new(resource);
    span
}

#[test]
fn opentelemetry_spans_get_datadog_names() {
    let mut span = otel_span(
        SpanKind::Server,
        &[
            ("http.request.method", "GET".into()),
            ("http.route", "/users/{id}".into()),
            ("http.response.status_code", AnyValue::Int(503)),
            ("feature.on", AnyValue::Bool(true)),
            ("sampling.priority", AnyValue::Int(2)),
        ],
    );
    span.status = kiseki_model::Status::error("upstream failed");
    span.events.push(Event {
        time_unix_nano: 2_000,
        name: "exception".into(),
        attributes: [("exception.type", "IOError"), ("exception.message", "reset")]
            .into_iter()
            .map(|(k, v)| kiseki_model::KeyValue::new(k, v))
            .collect(),
        dropped_attributes_count: 0,
    });
    let dd = model_to_dd_span(&span);
    assert_eq!(dd.service, "checkout");
    assert_eq!(dd.name, "http.server.request");
    assert_eq!(dd.resource, "GET /users/{id}");
    assert_eq!(dd.span_type, "web");
    assert_eq!((dd.trace_id, dd.span_id, dd.parent_id), (0x1112_1314_1516_1718, 0x21, 0));
    assert_eq!((dd.start, dd.duration, dd.error), (1_000, 2_000, 1));
    assert_eq!(dd.meta("_dd.p.tid"), Some("0102030405060708"));
    assert_eq!(dd.meta("span.kind"), Some("server"));
    assert_eq!(dd.meta("env"), Some("prod"));
    assert_eq!(dd.meta("_dd.hostname"), Some("node-1"));
    assert_eq!(dd.meta("k8s.pod.name"), Some("pod-1"));
    assert_eq!(dd.meta("telemetry.sdk.language"), None);
    assert_eq!(dd.meta("feature.on"), Some("true"));
    assert_eq!(dd.meta("error.message"), Some("reset"));
    assert_eq!(dd.meta("error.type"), Some("IOError"));
    assert_eq!(dd.meta("otel.status_description"), Some("upstream failed"));
    assert_eq!(dd.metric("http.response.status_code"), Some(503.0));
    assert_eq!(dd.metric("_sampling_priority_v1"), Some(2.0));
    assert_eq!(dd.meta("sampling.priority"), None);
    assert_eq!(dd.span_events.len(), 1, "an exception event at another time than the end stays");
}

#[test]
fn kind_is_written_unless_unspecified() {
    let dd = |kind: SpanKind, span_type: &str| {
        let mut attributes = vec![("resource.name", AnyValue::from("r"))];
        if !span_type.is_empty() {
            attributes.push(("span.type", span_type.into()));
        }
        model_to_dd_span(&otel_span(kind, &attributes))
    };
    assert_eq!(dd(SpanKind::Server, "web").meta("span.kind"), Some("server"));
    assert_eq!(dd(SpanKind::Client, "sql").meta("span.kind"), Some("client"));
    assert_eq!(dd(SpanKind::Unspecified, "sql").meta("span.kind"), None);
    assert_eq!(dd(SpanKind::Unspecified, "web").meta("span.kind"), Some("unspecified"));
    assert_eq!(dd(SpanKind::Internal, "").meta("span.kind"), Some("internal"));
}

#[test]
fn chunks_keep_trace_level_tags_on_their_first_span() {
    let first = otel_span(SpanKind::Server, &[]);
    let mut second = first.clone();
    second.span_id = SpanId::new(0x22).unwrap();
    second.parent_span_id = Some(first.span_id);
    let mut other_trace = first.clone();
    other_trace.trace_id = TraceId::new(5).unwrap();
    let chunks = model_to_dd_chunks(&[first, other_trace, second]);
    assert_eq!(chunks.len(), 2);
    let spans = &chunks[0].spans;
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].meta("_dd.p.tid"), Some("0102030405060708"));
    assert_eq!(spans[1].meta("_dd.p.tid"), None);
    assert_eq!(spans[0].meta("_dd.hostname"), Some("node-1"));
    assert_eq!(spans[1].meta("_dd.hostname"), None);
    assert_eq!(chunks[1].spans[0].meta("_dd.p.tid"), None, "a 64-bit trace id has no high half");
}

#[test]
fn status_ok_and_unset_messages() {
    let mut span = otel_span(SpanKind::Internal, &[]);
    span.status = kiseki_model::Status { code: StatusCode::Ok, message: "ignored".into() };
    let dd = model_to_dd_span(&span);
    assert_eq!((dd.error, dd.meta("otel.status_code")), (0, Some("OK")));
    let back = only(decode_v04_msgpack(&encode_v04_msgpack(&[span])).unwrap());
    assert_eq!(back.status, kiseki_model::Status { code: StatusCode::Ok, message: "".into() });
}

#[test]
fn encoders_write_what_decoders_read() {
    let mut span =
        otel_span(SpanKind::Client, &[("db.system", "redis".into()), ("n", AnyValue::Int(3))]);
    span.links.push(Link {
        trace_id: TraceId::new(99).unwrap(),
        span_id: SpanId::new(98).unwrap(),
        trace_state: "a=b".into(),
        flags: 1,
        attributes: [kiseki_model::KeyValue::new("why", "batch")].into_iter().collect(),
        dropped_attributes_count: 0,
    });
    span.events.push(Event { time_unix_nano: 1_500, name: "retry".into(), ..Event::default() });
    let spans = std::slice::from_ref(&span);
    let v04 = decode_v04_msgpack(&encode_v04_msgpack(spans)).unwrap();
    let v05 = decode_v05(&encode_v05(spans)).unwrap();
    for back in [only(v04), only(v05)] {
        assert_eq!(back.trace_id, span.trace_id);
        assert_eq!(back.name, "redis.query");
        assert_eq!(back.attributes.get_str(semconv::DATADOG_SPAN_TYPE), Some("redis"));
        assert_eq!(back.attributes.get_str(semconv::DATADOG_RESOURCE), Some("HTTP GET"));
        assert_eq!(back.kind, SpanKind::Client);
        assert_eq!(back.attributes.get("n"), Some(&AnyValue::Double(3.0)));
        assert_eq!(back.links, span.links);
        assert_eq!(back.events, span.events);
        assert_eq!(back.resource.attributes.get_str(semconv::HOST_NAME), Some("node-1"));
        assert_eq!(
            back.resource.attributes.get_str(semconv::DEPLOYMENT_ENVIRONMENT_NAME),
            Some("prod")
        );
    }
}

#[test]
fn span_to_model_maps_a_lone_span() {
    let dd = DdSpan {
        service: "svc".into(),
        name: "op".into(),
        trace_id: 3,
        span_id: 4,
        meta: vec![("_dd.p.tid".into(), "00000000000000ff".into())],
        ..DdSpan::default()
    };
    let span = span_to_model(dd.clone()).unwrap();
    assert_eq!(span.trace_id, TraceId::from_halves(0xff, 3).unwrap());
    let back = model_to_dd_span(&span);
    assert_eq!(
        (back.service.as_str(), back.name.as_str(), back.resource.as_str()),
        ("svc", "op", "op")
    );
    assert_eq!(back.meta, dd.meta);
}
