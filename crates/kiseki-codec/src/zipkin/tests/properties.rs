//! Property tests: the v2 encoders and decoders are each other's inverse on everything Zipkin
//! can carry, v1 JSON and v1 Thrift decode the same spans to the same result, and no input makes
//! a decoder panic.

use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, TraceId, semconv,
};
use proptest::prelude::*;

use crate::zipkin::to_model::to_model;
use crate::zipkin::v1::{V1Annotation, V1BinaryAnnotation, V1Span, convert};
use crate::zipkin::v1_json::encode_v1_json_for_tests;
use crate::zipkin::v1_thrift::encode_v1_thrift_for_tests;
use crate::zipkin::wire::Endpoint;
use crate::zipkin::{
    decode_v1_json, decode_v1_thrift, decode_v2_json, decode_v2_proto, encode_v2_json,
    encode_v2_proto,
};

/// Doubles that serde_json reads back exactly: it parses without the `float_roundtrip` feature,
/// which can be one unit in the last place off for 17-digit values.
fn double() -> impl Strategy<Value = f64> {
    (any::<i32>(), 0..6i32)
        .prop_map(|(mantissa, exponent)| f64::from(mantissa) / 10f64.powi(exponent))
}

fn text() -> impl Strategy<Value = String> {
    prop::string::string_regex("(?s).{0,12}").unwrap()
}

fn str_value() -> impl Strategy<Value = Str> {
    text().prop_map(Str::from)
}

fn trace_id() -> impl Strategy<Value = TraceId> {
    prop_oneof![
        (1..=u64::MAX).prop_map(|low| TraceId::from_halves(0, low).unwrap()),
        (1..=u128::MAX).prop_map(|v| TraceId::new(v).unwrap()),
    ]
}

fn span_id() -> impl Strategy<Value = SpanId> {
    (1..=u64::MAX).prop_map(|v| SpanId::new(v).unwrap())
}

/// Microseconds as nanoseconds, as Zipkin times are.
fn micros_time() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), (1u64..(1 << 53)).prop_map(|us| us * 1000)]
}

/// Values that survive JSON inside an annotation: no bytes, no NaN or infinity.
fn json_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        Just(AnyValue::Empty),
        str_value().prop_map(AnyValue::Str),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        double().prop_map(AnyValue::Double),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AnyValue::Array),
            prop::collection::vec((str_value(), inner), 0..4).prop_map(|entries| {
                AnyValue::Map(
                    entries.into_iter().map(|(key, value)| KeyValue { key, value }).collect(),
                )
            }),
        ]
    })
}

fn json_attributes() -> impl Strategy<Value = Attributes> {
    prop::collection::vec((str_value(), json_value()), 0..4).prop_map(|entries| {
        entries.into_iter().map(|(key, value)| KeyValue { key, value }).collect()
    })
}

/// Tag keys that carry nothing but themselves.
fn plain_key() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-z]{1,6}(\\.[a-z_]{1,6})?").unwrap().prop_filter(
        "not a key the mapping uses",
        |key| {
            !(key.starts_with("otel.")
                || key.starts_with("network.")
                || key.starts_with("zipkin.")
                || key.starts_with("otlp.")
                || key.starts_with("w3c.")
                || ["error", "span.kind", "peer.service"].contains(&key.as_str()))
        },
    )
}

fn ip_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| std::net::Ipv4Addr::from(o).to_string()),
        any::<[u8; 16]>().prop_map(|o| std::net::Ipv6Addr::from(o).to_string()),
    ]
}

/// Attributes as they come out of a Zipkin decoder: string tags first, then what endpoints and
/// flags carry, in the order the decoder adds them.
fn carried_attributes() -> impl Strategy<Value = Attributes> {
    (
        prop::collection::btree_map(plain_key(), text(), 0..5),
        prop::option::of(ip_text()),
        prop::option::of(1u16..),
        prop::option::of(text().prop_filter("non-empty", |s| !s.is_empty())),
        prop::option::of(ip_text()),
        prop::option::of(1u16..),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(tags, local_ip, local_port, peer, peer_ip, peer_port, shared, debug)| {
            let mut a: Attributes =
                tags.into_iter().map(|(k, v)| KeyValue::new(k.as_str(), v)).collect();
            if let Some(ip) = local_ip {
                a.push(semconv::NETWORK_LOCAL_ADDRESS, ip);
            }
            if let Some(port) = local_port {
                a.push(semconv::NETWORK_LOCAL_PORT, i64::from(port));
            }
            if let Some(peer) = peer {
                a.push(semconv::PEER_SERVICE, peer);
            }
            if let Some(ip) = peer_ip {
                a.push(semconv::NETWORK_PEER_ADDRESS, ip);
            }
            if let Some(port) = peer_port {
                a.push(semconv::NETWORK_PEER_PORT, i64::from(port));
            }
            if shared {
                a.push(semconv::ZIPKIN_SHARED, true);
            }
            if debug {
                a.push(semconv::ZIPKIN_DEBUG, true);
            }
            a
        })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::default()),
        str_value().prop_map(|message| Status { code: StatusCode::Ok, message }),
        str_value().prop_map(|message| Status { code: StatusCode::Error, message }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (micros_time(), str_value(), json_attributes(), any::<u32>()).prop_map(
        |(time_unix_nano, name, attributes, dropped)| Event {
            time_unix_nano,
            // The Collector's form, the only one with a dropped count, cannot carry a `|` name.
            dropped_attributes_count: if name.contains('|') { 0 } else { dropped },
            name,
            attributes,
        },
    )
}

fn link() -> impl Strategy<Value = Link> {
    (trace_id(), span_id(), "[a-z0-9=,]{0,10}", json_attributes(), any::<u32>()).prop_map(
        |(trace_id, span_id, trace_state, attributes, dropped_attributes_count)| Link {
            trace_id,
            span_id,
            trace_state: Str::from(trace_state),
            flags: 0,
            attributes,
            dropped_attributes_count,
        },
    )
}

/// A span holding only what Zipkin v2 carries, in the form its decoders produce.
fn carried_span() -> impl Strategy<Value = Span> {
    (
        (trace_id(), span_id(), prop::option::of(span_id()), str_value()),
        (prop::sample::select(SpanKind::ALL.to_vec()), micros_time(), micros_time()),
        (carried_attributes(), status(), prop::collection::vec(event(), 0..3)),
        (prop::collection::vec(link(), 0..3), "[a-z0-9=,|]{0,10}"),
        (
            prop::option::of(text().prop_filter("non-empty", |s| !s.is_empty())),
            str_value(),
            str_value(),
        ),
    )
        .prop_map(|(ids, times, body, linked, parts)| {
            let (trace_id, span_id, parent, name) = ids;
            let (kind, start, length) = times;
            let (attributes, status, events) = body;
            let (links, trace_state) = linked;
            let (service, scope_name, scope_version) = parts;
            let mut span = Span::new(trace_id, span_id);
            span.parent_span_id = parent.filter(|&p| p != span_id);
            span.name = name;
            span.kind = kind;
            span.start_time_unix_nano = start;
            span.end_time_unix_nano = start.saturating_add(length);
            span.attributes = attributes;
            span.status = status;
            span.events = events;
            span.links = links;
            span.trace_state = Str::from(trace_state);
            span.resource = Arc::new(match service {
                Some(service) => Resource::for_service(service),
                None => Resource::default(),
            });
            span.scope =
                Arc::new(Scope { name: scope_name, version: scope_version, ..Scope::default() });
            span
        })
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    (
        prop::sample::select(vec!["frontend", "backend", "Backend", "kafka", ""]),
        prop::option::of(ip_text()),
        any::<u16>(),
    )
        .prop_map(|(service, ip, port)| {
            let mut e = Endpoint::default();
            e.set_service_name(service);
            if let Some(ip) = ip {
                e.set_ip_text(&ip);
            }
            e.port = port;
            e
        })
        .prop_filter("non-empty", |e| !e.is_empty())
}

fn v1_value() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        str_value().prop_map(AnyValue::Str),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        double().prop_map(AnyValue::Double),
        prop::collection::vec(any::<u8>(), 0..6).prop_map(AnyValue::Bytes),
    ]
}

fn v1_binary_annotation() -> impl Strategy<Value = V1BinaryAnnotation> {
    let tag = (
        prop::sample::select(vec!["http.path", "error", "lc", "k", "otel.status_code"]),
        v1_value(),
        prop::option::of(endpoint()),
    )
        .prop_map(|(key, value, endpoint)| V1BinaryAnnotation {
            key: Str::new(key),
            value,
            endpoint,
        });
    let address =
        (prop::sample::select(vec!["sa", "ca", "ma"]), endpoint()).prop_map(|(key, endpoint)| {
            V1BinaryAnnotation {
                key: Str::new(key),
                value: AnyValue::Bool(true),
                endpoint: Some(endpoint),
            }
        });
    prop_oneof![3 => tag, 1 => address]
}

fn v1_span() -> impl Strategy<Value = V1Span> {
    let annotation = (
        1i64..1_000_000,
        prop::sample::select(vec!["cs", "sr", "ss", "cr", "ms", "mr", "ws", "wr", "custom", "lc"]),
        prop::option::of(endpoint()),
    )
        .prop_map(|(timestamp, value, endpoint)| V1Annotation {
            timestamp,
            value: Str::new(value),
            endpoint,
        });
    (
        (trace_id(), span_id(), prop::option::of(span_id()), str_value()),
        (prop_oneof![Just(0i64), -1000i64..(1 << 53)], prop_oneof![Just(0i64), 0i64..1_000_000]),
        prop::collection::vec(annotation, 0..7),
        prop::collection::vec(v1_binary_annotation(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(ids, times, annotations, binary_annotations, debug)| V1Span {
            trace_id: ids.0,
            id: ids.1,
            parent_id: ids.2,
            name: ids.3,
            timestamp: times.0,
            duration: times.1,
            annotations,
            binary_annotations,
            debug,
        })
}

/// Spans equal except for attribute order of span, which v1 sorts by key.
fn assert_same_spans(left: &[Span], right: &[Span]) {
    assert_eq!(left.len(), right.len());
    for (l, r) in left.iter().zip(right) {
        assert_eq!(l, r);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn v2_json_round_trips_what_zipkin_carries(spans in prop::collection::vec(carried_span(), 0..4)) {
        let decoded = decode_v2_json(&encode_v2_json(&spans)).unwrap();
        prop_assert_eq!(decoded, spans);
    }

    #[test]
    fn v2_proto_round_trips_what_zipkin_carries(spans in prop::collection::vec(carried_span(), 0..4)) {
        let decoded = decode_v2_proto(&encode_v2_proto(&spans)).unwrap();
        prop_assert_eq!(decoded, spans);
    }

    #[test]
    fn v1_json_and_thrift_decode_to_zipkins_conversion(spans in prop::collection::vec(v1_span(), 1..4)) {
        let from_json = decode_v1_json(&encode_v1_json_for_tests(&spans)).unwrap();
        let from_thrift = decode_v1_thrift(&encode_v1_thrift_for_tests(&spans)).unwrap();
        let mut wire = Vec::new();
        for (index, span) in spans.iter().enumerate() {
            let mut sorted = span.clone();
            sorted.sort();
            wire.extend(convert(&sorted).into_iter().map(|z| (index, z)));
        }
        let direct = to_model(wire).unwrap();
        assert_same_spans(&from_json, &direct);
        assert_same_spans(&from_thrift, &direct);
        // Every span sent comes out, at least once, with its ids.
        for span in &spans {
            prop_assert!(direct.iter().any(|s| s.trace_id == span.trace_id && s.span_id == span.id));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_v1_json(&body);
        let _ = decode_v1_thrift(&body);
        let _ = decode_v2_json(&body);
        let _ = decode_v2_proto(&body);
    }

    #[test]
    fn damaged_valid_bodies_never_panic(
        spans in prop::collection::vec(carried_span(), 1..3),
        v1 in prop::collection::vec(v1_span(), 1..3),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let bodies = [
            (0, encode_v1_json_for_tests(&v1)),
            (1, encode_v1_thrift_for_tests(&v1)),
            (2, encode_v2_json(&spans)),
            (3, encode_v2_proto(&spans)),
        ];
        for (which, mut body) in bodies {
            for (index, byte) in &edits {
                let i = index.index(body.len());
                body[i] = *byte;
            }
            body.truncate(cut.index(body.len() + 1));
            let _ = match which {
                0 => decode_v1_json(&body),
                1 => decode_v1_thrift(&body),
                2 => decode_v2_json(&body),
                _ => decode_v2_proto(&body),
            };
        }
    }
}
