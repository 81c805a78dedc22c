//! Generated spans through every encoder and back, and decoders fed arbitrary or damaged bytes.

use kiseki_model::SpanKind;
use proptest::prelude::*;

use super::*;

fn arb_scalar() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        "\\PC{0,12}".prop_map(AnyValue::from),
        any::<bool>().prop_map(AnyValue::Bool),
        any::<i64>().prop_map(AnyValue::Int),
        any::<f64>().prop_filter("finite", |d| d.is_finite()).prop_map(AnyValue::Double),
        prop::collection::vec(any::<u8>(), 0..8).prop_map(AnyValue::Bytes),
        Just(AnyValue::Empty),
    ]
}

fn arb_value() -> impl Strategy<Value = AnyValue> {
    arb_scalar().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(AnyValue::Array),
            prop::collection::vec(("[a-z]{1,4}", inner), 0..3).prop_map(|entries| {
                AnyValue::Map(entries.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
            }),
        ]
    })
}

/// Attribute lists with unique keys that none of Jaeger's special tags can collide with.
fn arb_attributes(max: usize) -> impl Strategy<Value = Attributes> {
    prop::collection::vec(("[a-z]{0,4}", arb_value()), 0..max).prop_map(|pairs| {
        pairs
            .into_iter()
            .enumerate()
            .map(|(i, (key, value))| KeyValue::new(format!("k{i}.{key}"), value))
            .collect()
    })
}

fn arb_resource() -> impl Strategy<Value = Arc<Resource>> {
    (prop::option::of("\\PC{0,8}"), arb_attributes(3)).prop_map(|(service, rest)| {
        let mut attributes = Attributes::new();
        if let Some(service) = service {
            attributes.push("service.name", service);
        }
        attributes.extend(rest.0);
        Arc::new(Resource { attributes, dropped_attributes_count: 0 })
    })
}

fn arb_link() -> impl Strategy<Value = Link> {
    // Link ids have the top bit set and span trace ids and parents do not, so a link never
    // points into its own span's trace or at its parent (where a CHILD_OF link would read back
    // as the parent).
    let ref_type = prop::option::of(prop_oneof![Just("child_of"), Just("follows_from")]);
    (1u128 << 127.., 1u64 << 63.., ref_type, arb_attributes(2), "[a-z=]{0,6}", any::<u32>())
        .prop_map(|(trace, span, ref_type, mut attributes, trace_state, flags)| {
            if let Some(ref_type) = ref_type {
                attributes.push("opentracing.ref_type", ref_type);
            }
            Link {
                trace_id: TraceId::new(trace).unwrap(),
                span_id: SpanId::new(span).unwrap(),
                trace_state: trace_state.into(),
                flags,
                attributes,
                dropped_attributes_count: 1,
            }
        })
}

fn arb_event() -> impl Strategy<Value = Event> {
    (0u64..=u64::MAX / 2, prop::option::of("e\\.[a-z]{1,6}"), arb_attributes(3)).prop_map(
        |(time_unix_nano, name, attributes)| Event {
            time_unix_nano,
            name: name.unwrap_or_default().into(),
            attributes,
            dropped_attributes_count: 2,
        },
    )
}

prop_compose! {
    fn arb_span(resources: Vec<Arc<Resource>>)(
        resource in prop::sample::select(resources),
        trace in prop_oneof![1u128..=u128::from(u64::MAX), 1u128..1 << 127],
        span in 1u64..,
        parent in prop::option::of(1u64..1 << 63),
        name in "\\PC{0,16}",
        kind in prop::sample::select(SpanKind::ALL.to_vec()),
        start in 0u64..=u64::MAX / 2,
        duration in prop_oneof![0u64..10_000_000_000, Just(0)],
        ends_early in prop::bool::weighted(0.1),
        flags in any::<u32>(),
        trace_state in prop_oneof![Just(String::new()), "[a-z]{1,4}=[a-z0-9]{1,4}"],
        attributes in arb_attributes(6),
        debug in any::<bool>(),
        status_code in prop::sample::select(vec![StatusCode::Unset, StatusCode::Ok, StatusCode::Error]),
        status_message in "\\PC{0,10}",
        scope in ("[a-z.]{0,8}", "[0-9.]{0,4}", arb_attributes(2)),
        events in prop::collection::vec(arb_event(), 0..3),
        links in prop::collection::vec(arb_link(), 0..3),
    ) -> Span {
        let mut out = Span::new(TraceId::new(trace).unwrap(), SpanId::new(span).unwrap());
        out.parent_span_id = parent.and_then(SpanId::new);
        out.name = name.into();
        out.kind = kind;
        out.start_time_unix_nano = start;
        out.end_time_unix_nano =
            if ends_early { start.saturating_sub(duration) } else { start + duration };
        out.flags = flags;
        out.trace_state = trace_state.into();
        out.attributes = attributes;
        if debug {
            out.attributes.push("jaeger.debug", true);
        }
        out.dropped_attributes_count = 3;
        out.status = Status { code: status_code, message: status_message.into() };
        out.scope = Arc::new(Scope {
            name: scope.0.into(),
            version: scope.1.into(),
            attributes: scope.2,
            dropped_attributes_count: 1,
        });
        out.events = events;
        out.links = links;
        out.resource = resource;
        out
    }
}

fn arb_spans() -> impl Strategy<Value = Vec<Span>> {
    prop::collection::vec(arb_resource(), 1..4)
        .prop_flat_map(|resources| prop::collection::vec(arb_span(resources), 0..5))
}

/// The spans in the order the Thrift encoders emit them: grouped by resource, groups in the
/// order their resources first appear.
fn grouped_by_resource(spans: &[Span]) -> Vec<Span> {
    let mut resources: Vec<&Resource> = Vec::new();
    for span in spans {
        if !resources.contains(&&*span.resource) {
            resources.push(&span.resource);
        }
    }
    resources
        .into_iter()
        .flat_map(|resource| spans.iter().filter(move |span| *span.resource == *resource))
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn thrift_batches_round_trip(spans in arb_spans()) {
        let expected: Vec<Span> =
            grouped_by_resource(&spans).iter().map(|span| restrict(span, true)).collect();
        for protocol in [ThriftProtocol::Binary, ThriftProtocol::Compact] {
            let decoded: Vec<Span> = encode_thrift_batch(&spans, protocol)
                .iter()
                .flat_map(|body| decode_thrift_batch(body, protocol).unwrap())
                .collect();
            prop_assert_eq!(&decoded, &expected);
        }
    }

    #[test]
    fn udp_messages_round_trip(spans in arb_spans()) {
        let expected: Vec<Span> =
            grouped_by_resource(&spans).iter().map(|span| restrict(span, true)).collect();
        let compact: Vec<Span> = encode_udp_emit_batch(&spans, true)
            .iter()
            .flat_map(|datagram| decode_udp_compact(datagram).unwrap())
            .collect();
        prop_assert_eq!(&compact, &expected);
        let binary: Vec<Span> = encode_udp_emit_batch(&spans, false)
            .iter()
            .flat_map(|datagram| decode_udp_binary(datagram).unwrap())
            .collect();
        prop_assert_eq!(&binary, &expected);
    }

    #[test]
    fn proto_round_trips(spans in arb_spans()) {
        let expected: Vec<Span> = spans.iter().map(|span| restrict(span, false)).collect();
        let body = encode_proto_post_spans(&spans);
        let decoded = decode_proto_post_spans(&body).unwrap();
        prop_assert_eq!(&decoded, &expected);
        // The prost message types read the same body to the same spans.
        let request = <proto::PostSpansRequest as prost::Message>::decode(&body[..]).unwrap();
        prop_assert_eq!(spans_from_post_spans_request(&request).unwrap(), expected);
    }

    #[test]
    fn decoded_spans_share_resources_and_scopes(spans in arb_spans()) {
        let decoded = decode_proto_post_spans(&encode_proto_post_spans(&spans)).unwrap();
        for a in &decoded {
            for b in &decoded {
                prop_assert_eq!(Arc::ptr_eq(&a.resource, &b.resource), a.resource == b.resource);
                prop_assert_eq!(Arc::ptr_eq(&a.scope, &b.scope), a.scope == b.scope);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_thrift_batch_binary(&bytes);
        let _ = decode_thrift_batch_compact(&bytes);
        let _ = decode_udp_compact(&bytes);
        let _ = decode_udp_binary(&bytes);
        let _ = decode_proto_post_spans(&bytes);
    }

    #[test]
    fn damaged_payloads_never_panic(
        spans in arb_spans(),
        damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut payloads: Vec<(Vec<u8>, Decoder)> = Vec::new();
        for body in encode_thrift_batch(&spans, ThriftProtocol::Binary) {
            payloads.push((body, decode_thrift_batch_binary));
        }
        for body in encode_thrift_batch(&spans, ThriftProtocol::Compact) {
            payloads.push((body, decode_thrift_batch_compact));
        }
        for body in encode_udp_emit_batch(&spans, true) {
            payloads.push((body, decode_udp_compact));
        }
        for body in encode_udp_emit_batch(&spans, false) {
            payloads.push((body, decode_udp_binary));
        }
        payloads.push((encode_proto_post_spans(&spans), decode_proto_post_spans));
        for (mut body, decode) in payloads {
            let _ = decode(&body[..cut.index(body.len() + 1)]);
            if !body.is_empty() {
                for (index, byte) in &damage {
                    let at = index.index(body.len());
                    body[at] = *byte;
                }
            }
            let _ = decode(&body);
        }
    }

    #[test]
    fn query_json_has_one_entry_per_span(spans in arb_spans()) {
        let json = query_json::trace_to_json(&spans);
        prop_assert_eq!(json["spans"].as_array().unwrap().len(), spans.len());
        let processes = json["processes"].as_object().unwrap();
        for span in json["spans"].as_array().unwrap() {
            prop_assert!(processes.contains_key(span["processID"].as_str().unwrap()));
        }
    }
}
