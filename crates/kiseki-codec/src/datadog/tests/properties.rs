//! Properties: encode then decode gives back what Datadog can carry; Datadog spans survive a
//! trip through the model; no input makes a decoder panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, TraceId, semconv,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::super::*;
use super::support::{Mp, map, s};

fn kind() -> impl Strategy<Value = SpanKind> {
    prop::sample::select(SpanKind::ALL.to_vec())
}

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,12}"
}

fn finite() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL
}

/// Doubles with at most 10 significant digits. Event attributes travel as JSON text, and
/// serde_json (without its `float_roundtrip` feature) may read a 17-digit double one unit in the
/// last place off; short decimals it reads exactly.
fn short_decimal() -> impl Strategy<Value = f64> {
    (any::<i32>(), -20i32..20).prop_map(|(mantissa, exponent)| {
        format!("{mantissa}e{exponent}").parse::<f64>().unwrap_or(0.0)
    })
}

/// A value an event attribute can have after a trip through JSON.
fn event_value() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        text().prop_map(AnyValue::from),
        any::<i64>().prop_map(AnyValue::Int),
        short_decimal().prop_map(AnyValue::Double),
        any::<bool>().prop_map(AnyValue::Bool),
        vec(text().prop_map(AnyValue::from), 0..3).prop_map(AnyValue::Array),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    ("[a-z.]{0,8}", any::<u64>(), btree_map("e\\.[a-z]{1,6}", event_value(), 0..4)).prop_map(
        |(name, time_unix_nano, attributes)| Event {
            // `exception` events are generated on their own, see `exception()`.
            name: format!("ev.{name}").into(),
            time_unix_nano,
            attributes: attributes.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
            dropped_attributes_count: 0,
        },
    )
}

fn link() -> impl Strategy<Value = Link> {
    (
        any::<u128>(),
        any::<u64>(),
        prop_oneof![Just(String::new()), "[a-z]{1,4}=[a-z0-9:;]{1,8}"],
        0u32..=255,
        btree_map("l\\.[a-z]{1,6}", text(), 0..3),
    )
        .prop_map(|(trace_id, span_id, trace_state, flags, attributes)| Link {
            trace_id: TraceId::new(trace_id | 1).unwrap(),
            span_id: SpanId::new(span_id | 1).unwrap(),
            trace_state: trace_state.into(),
            flags,
            attributes: attributes.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
            dropped_attributes_count: 0,
        })
}

/// What a span's error looks like: status, and an optional `exception` event.
#[derive(Debug, Clone)]
enum Failure {
    None,
    Ok,
    /// ERROR without a message and without an exception.
    Bare,
    /// ERROR with a message, an exception at the span's end with the same or another message.
    Exception {
        status_message: String,
        message: Option<String>,
        exception_type: Option<String>,
        at_end: bool,
    },
    /// An exception recorded on a span that did not fail, with more attributes.
    Handled {
        exception_type: String,
        extra: i64,
    },
}

fn failure() -> impl Strategy<Value = Failure> {
    prop_oneof![
        Just(Failure::None),
        Just(Failure::Ok),
        Just(Failure::Bare),
        (text(), prop::option::of(text()), prop::option::of("[A-Za-z.]{1,12}"), any::<bool>())
            .prop_map(|(status_message, message, exception_type, at_end)| Failure::Exception {
                status_message,
                message,
                exception_type,
                at_end,
            }),
        ("[A-Za-z.]{1,12}", any::<i64>())
            .prop_map(|(exception_type, extra)| Failure::Handled { exception_type, extra }),
    ]
}

/// The parts of a Datadog-shaped span that vary.
#[derive(Debug, Clone)]
struct SpanParts {
    span_id: u64,
    has_parent: bool,
    parent: u64,
    name: String,
    resource: String,
    span_type: Option<&'static str>,
    strings: BTreeMap<String, String>,
    numbers: BTreeMap<String, f64>,
    priority: Option<i64>,
    kind: SpanKind,
    start: u64,
    duration: u64,
    failure: Failure,
    events: Vec<Event>,
    links: Vec<Link>,
    trace_state: bool,
    resource_index: usize,
    scope_index: usize,
}

fn span_parts() -> impl Strategy<Value = SpanParts> {
    (
        (any::<u64>(), any::<bool>(), any::<u64>(), "[a-z][a-z._]{0,11}", "\\PC{1,16}"),
        prop::option::of(prop::sample::select(vec!["web", "http", "sql", "redis", "worker"])),
        btree_map("s\\.[a-z]{1,6}", text(), 0..4),
        btree_map("d\\.[a-z]{1,6}", finite(), 0..3),
        prop::option::of(-1i64..=2),
        (kind(), 0u64..=(i64::MAX as u64) / 2, 0u64..=(i64::MAX as u64) / 2),
        failure(),
        (vec(event(), 0..3), vec(link(), 0..2), any::<bool>(), 0usize..3, 0usize..2),
    )
        .prop_map(
            |(
                (span_id, has_parent, parent, name, resource),
                span_type,
                strings,
                numbers,
                priority,
                (kind, start, duration),
                failure,
                (events, links, trace_state, resource_index, scope_index),
            )| SpanParts {
                span_id,
                has_parent,
                parent,
                name,
                resource,
                span_type,
                strings,
                numbers,
                priority,
                kind,
                start,
                duration,
                failure,
                events,
                links,
                trace_state,
                resource_index,
                scope_index,
            },
        )
}

impl SpanParts {
    /// A span as it reads back from Datadog: attributes in meta-then-metrics order.
    fn build(
        &self,
        trace_id: TraceId,
        index: usize,
        resources: &[Arc<Resource>],
        scopes: &[Arc<Scope>],
    ) -> Span {
        let span_id = SpanId::new((self.span_id & !0xff) | (index as u64 + 1)).unwrap();
        let mut span = Span::new(trace_id, span_id);
        span.parent_span_id = if self.has_parent { SpanId::new(self.parent | 1) } else { None };
        span.name = self.name.as_str().into();
        span.kind = self.kind;
        span.start_time_unix_nano = self.start;
        span.end_time_unix_nano = self.start + self.duration;
        span.trace_state = if self.trace_state { "dd=s:1;t.dm:-4".into() } else { Str::default() };
        span.attributes.push(semconv::DATADOG_RESOURCE, self.resource.as_str());
        if let Some(span_type) = self.span_type {
            span.attributes.push(semconv::DATADOG_SPAN_TYPE, span_type);
        }
        for (key, value) in &self.strings {
            span.attributes.push(key.as_str(), value.as_str());
        }
        for (key, value) in &self.numbers {
            span.attributes.push(key.as_str(), *value);
        }
        if let Some(priority) = self.priority {
            span.attributes.push(semconv::SAMPLING_PRIORITY, priority);
        }
        span.events = self.events.clone();
        span.links = self.links.clone();
        let end = span.end_time_unix_nano;
        match &self.failure {
            Failure::None => {}
            Failure::Ok => span.status = Status { code: StatusCode::Ok, message: Str::default() },
            Failure::Bare => span.status = Status::error(""),
            Failure::Exception { status_message, message, exception_type, at_end } => {
                span.status = Status::error(status_message.as_str());
                let mut attributes = Attributes::new();
                // Without a message of its own the exception carries the status message, so
                // that the meta has one to give back.
                attributes
                    .push(semconv::EXCEPTION_MESSAGE, message.as_deref().unwrap_or(status_message));
                if let Some(exception_type) = exception_type {
                    attributes.push(semconv::EXCEPTION_TYPE, exception_type.as_str());
                }
                let time_unix_nano = if *at_end { end } else { span.start_time_unix_nano };
                span.events.push(Event {
                    time_unix_nano,
                    name: "exception".into(),
                    attributes,
                    dropped_attributes_count: 0,
                });
            }
            Failure::Handled { exception_type, extra } => {
                let mut attributes = Attributes::new();
                attributes.push(semconv::EXCEPTION_TYPE, exception_type.as_str());
                attributes.push("e.extra", *extra);
                span.events.insert(
                    0,
                    Event {
                        time_unix_nano: end,
                        name: "exception".into(),
                        attributes,
                        dropped_attributes_count: 0,
                    },
                );
            }
        }
        span.resource = resources[self.resource_index % resources.len()].clone();
        span.scope = scopes[self.scope_index % scopes.len()].clone();
        span
    }
}

/// Spans whose every fact Datadog carries, in the order a decoder gives them back.
fn datadog_shaped_spans() -> impl Strategy<Value = Vec<Span>> {
    let resource =
        ("[a-z][a-z-]{0,8}", prop::option::of("[a-z]{1,6}"), prop::option::of("[0-9.]{1,5}"));
    (
        vec(resource, 1..4),
        prop::option::of("[a-z0-9-]{1,10}"),
        prop::option::of(("[a-z.]{1,8}", "[0-9.]{0,5}")),
        vec((any::<u128>(), vec(span_parts(), 1..5)), 1..4),
    )
        .prop_map(|(resources, host, scope, traces)| {
            let resources: Vec<Arc<Resource>> = resources
                .into_iter()
                .map(|(service, env, version)| {
                    let mut resource = Resource::for_service(service);
                    if let Some(env) = env {
                        resource.attributes.push(semconv::DEPLOYMENT_ENVIRONMENT_NAME, env);
                    }
                    if let Some(version) = version {
                        resource.attributes.push(semconv::SERVICE_VERSION, version);
                    }
                    if let Some(host) = &host {
                        resource.attributes.push(semconv::HOST_NAME, host.as_str());
                    }
                    Arc::new(resource)
                })
                .collect();
            let mut scopes = vec![Arc::new(Scope::default())];
            if let Some((name, version)) = scope {
                scopes.push(Arc::new(Scope {
                    name: name.into(),
                    version: version.into(),
                    ..Scope::default()
                }));
            }
            let mut spans = Vec::new();
            for (index, (trace_id, parts)) in traces.into_iter().enumerate() {
                // Distinct low halves, so each trace is its own chunk.
                let trace_id = TraceId::new((trace_id & !0xff) | (index as u128 + 1)).unwrap();
                for (position, part) in parts.iter().enumerate() {
                    spans.push(part.build(trace_id, position, &resources, &scopes));
                }
            }
            spans
        })
}

/// Spans as OpenTelemetry SDKs make them: no Datadog attributes.
fn opentelemetry_spans() -> impl Strategy<Value = Vec<Span>> {
    let keys = prop::sample::select(vec![
        "http.request.method",
        "http.method",
        "http.route",
        "db.system",
        "db.query.text",
        "db.statement",
        "messaging.system",
        "messaging.operation",
        "messaging.destination.name",
        "rpc.system",
        "rpc.service",
        "rpc.method",
        "graphql.operation.type",
        "network.protocol.name",
        "faas.trigger",
        "custom.key",
    ]);
    let attributes =
        btree_map(keys, prop_oneof!["[A-Za-z/{}_ .]{0,10}", Just("_OTHER".to_owned())], 0..6);
    vec((any::<u128>(), any::<u64>(), "\\PC{0,16}", kind(), attributes, 0u8..3, "[a-z]{0,8}"), 1..6)
        .prop_map(|spans| {
            spans
                .into_iter()
                .map(|(trace_id, span_id, name, kind, attributes, status, service)| {
                    let mut span = Span::new(
                        TraceId::new(trace_id | 1).unwrap(),
                        SpanId::new(span_id | 1).unwrap(),
                    );
                    span.name = name.into();
                    span.kind = kind;
                    span.end_time_unix_nano = 10;
                    for (key, value) in attributes {
                        span.attributes.push(key, value);
                    }
                    span.status.code = StatusCode::from_number(i64::from(status)).unwrap();
                    if !service.is_empty() {
                        span.resource = Arc::new(Resource::for_service(service));
                    }
                    span
                })
                .collect()
        })
}

/// Datadog spans as tracers send them, with chunk-level tags on the first span.
fn datadog_chunks() -> impl Strategy<Value = Vec<DdChunk>> {
    let span = (
        (
            "[a-z][a-z-]{0,8}",
            "[a-z][a-z._]{0,10}",
            "\\PC{1,16}",
            prop::sample::select(vec!["", "web", "http", "sql", "worker"]),
        ),
        (any::<u64>(), any::<u64>(), 0i64..i64::MAX / 2, 0i64..i64::MAX / 2, any::<bool>()),
        btree_map("m\\.[a-z]{1,6}", text(), 0..4),
        btree_map("n\\.[a-z]{1,6}", finite(), 0..3),
        prop::option::of(prop::sample::select(vec![
            "server", "client", "producer", "consumer", "internal",
        ])),
        (
            prop::option::of("[a-z]{1,5}"),
            prop::option::of("[0-9.]{1,5}"),
            prop::option::of(-1i64..=2),
        ),
        (prop::option::of(text()), prop::option::of("[A-Za-z]{1,8}"), prop::option::of(text())),
    );
    let chunk = (any::<u64>(), any::<u64>(), prop::option::of("[a-z0-9-]{1,8}"), vec(span, 1..5));
    vec(chunk, 1..4).prop_map(|chunks| {
        chunks
            .into_iter()
            .enumerate()
            .map(|(chunk_index, (low, high, host, spans))| {
                let trace_id = (low & !0xff) | (chunk_index as u64 + 1);
                let spans = spans
                    .into_iter()
                    .enumerate()
                    .map(|(position, (names, numbers, strings, metrics, kind, resource, error))| {
                        let (service, name, resource_name, span_type) = names;
                        let (span_id, parent_id, start, duration, failed) = numbers;
                        let (env, version, priority) = resource;
                        let (message, error_type, stack) = error;
                        let mut meta: Vec<(Str, Str)> =
                            strings.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
                        let mut add = |key: &str, value: Option<String>| {
                            if let Some(value) = value {
                                meta.push((key.into(), value.into()));
                            }
                        };
                        let kind =
                            kind.or(matches!(span_type, "web" | "http").then_some("internal"));
                        add("span.kind", kind.map(str::to_owned));
                        add("env", env);
                        add("version", version);
                        add("error.message", message);
                        add("error.type", error_type);
                        add("error.stack", stack);
                        if position == 0 {
                            add("_dd.p.tid", (high != 0).then(|| format!("{high:016x}")));
                            add("_dd.hostname", host.clone());
                        }
                        let mut metrics: Vec<(Str, f64)> =
                            metrics.into_iter().map(|(k, v)| (k.into(), v)).collect();
                        if let Some(priority) = priority {
                            metrics.push(("_sampling_priority_v1".into(), priority as f64));
                        }
                        DdSpan {
                            service: service.into(),
                            name: name.into(),
                            resource: resource_name.into(),
                            trace_id,
                            span_id: span_id | 1,
                            parent_id,
                            start,
                            duration,
                            error: i32::from(failed),
                            meta,
                            metrics,
                            span_type: span_type.into(),
                            ..DdSpan::default()
                        }
                    })
                    .collect();
                DdChunk { spans, ..DdChunk::default() }
            })
            .collect()
    })
}

fn sorted<V: Clone>(entries: &[(Str, V)]) -> BTreeMap<Str, V> {
    entries.iter().cloned().collect()
}

/// Random msgpack, shaped like the payloads often enough to get past the first checks.
fn msgpack_value() -> impl Strategy<Value = Mp> {
    let leaf = prop_oneof![
        Just(Mp::Nil),
        any::<bool>().prop_map(Mp::Bool),
        any::<u64>().prop_map(Mp::U),
        any::<i64>().prop_map(Mp::I64),
        any::<f64>().prop_map(Mp::F64),
        any::<f32>().prop_map(Mp::F32),
        prop::sample::select(vec![
            "trace_id",
            "span_id",
            "parent_id",
            "meta",
            "metrics",
            "name",
            "service",
            "error",
            "span_links",
            "span_events",
            "chunks",
            "spans",
            "priority",
            "type",
            "attributes",
            "_dd.p.tid",
            "events",
            "_dd.span_links",
            "time_unix_nano",
            "values",
            "array_value",
        ])
        .prop_map(s),
        vec(any::<u8>(), 0..8).prop_map(Mp::Bin),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Mp::A),
            vec((inner.clone(), inner), 0..6).prop_map(Mp::M),
        ]
    })
}

fn all_decoders(body: &[u8]) {
    let _ = decode_v03_msgpack(body);
    let _ = decode_v03_json(body);
    let _ = decode_v04_msgpack(body);
    let _ = decode_v04_json(body);
    let _ = decode_v05(body);
    let _ = decode_v07(body);
}

proptest! {
    #[test]
    fn datadog_shaped_spans_survive_v04(spans in datadog_shaped_spans()) {
        let decoded = decode_v04_msgpack(&encode_v04_msgpack(&spans)).unwrap();
        prop_assert_eq!(decoded, spans);
    }

    #[test]
    fn datadog_shaped_spans_survive_v05(spans in datadog_shaped_spans()) {
        let decoded = decode_v05(&encode_v05(&spans)).unwrap();
        prop_assert_eq!(decoded, spans);
    }

    #[test]
    fn opentelemetry_spans_get_datadog_names(spans in opentelemetry_spans()) {
        let v04 = decode_v04_msgpack(&encode_v04_msgpack(&spans)).unwrap();
        let v05 = decode_v05(&encode_v05(&spans)).unwrap();
        for decoded in [v04, v05] {
            prop_assert_eq!(decoded.len(), spans.len());
            for (span, back) in spans.iter().zip(&decoded) {
                prop_assert_eq!(back.trace_id, span.trace_id);
                prop_assert_eq!(back.span_id, span.span_id);
                prop_assert_eq!(back.parent_span_id, span.parent_span_id);
                prop_assert_eq!(back.end_time_unix_nano, span.end_time_unix_nano);
                prop_assert_eq!(back.kind, span.kind);
                prop_assert_eq!(back.status.code, span.status.code);
                prop_assert_eq!(back.service_name(), span.service_name());
                prop_assert_eq!(back.name.as_str(), datadog_operation_name(span));
                prop_assert_eq!(back.attributes.get_str(semconv::DATADOG_RESOURCE).unwrap_or(""), datadog_resource_name(span));
                let span_type = datadog_span_type(span);
                prop_assert_eq!(back.attributes.get_str(semconv::DATADOG_SPAN_TYPE), Some(span_type.as_str()));
                for kv in span.attributes.iter() {
                    prop_assert_eq!(back.attributes.get(&kv.key), Some(&kv.value), "{}", kv.key);
                }
            }
        }
    }

    #[test]
    fn datadog_spans_survive_the_model(chunks in datadog_chunks()) {
        let spans = decode_v04_msgpack(&write_v04(&chunks)).unwrap();
        let again = model_to_dd_chunks(&spans);
        prop_assert_eq!(again.len(), chunks.len());
        for (chunk, back) in chunks.iter().zip(&again) {
            prop_assert_eq!(back.spans.len(), chunk.spans.len());
            for (dd, out) in chunk.spans.iter().zip(&back.spans) {
                prop_assert_eq!(&out.service, &dd.service);
                prop_assert_eq!(&out.name, &dd.name);
                prop_assert_eq!(&out.resource, &dd.resource);
                prop_assert_eq!(&out.span_type, &dd.span_type);
                prop_assert_eq!((out.trace_id, out.span_id, out.parent_id), (dd.trace_id, dd.span_id, dd.parent_id));
                prop_assert_eq!((out.start, out.duration, out.error), (dd.start, dd.duration, dd.error));
                prop_assert_eq!(sorted(&out.meta), sorted(&dd.meta));
                prop_assert_eq!(sorted(&out.metrics), sorted(&dd.metrics));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..512)) {
        all_decoders(&body);
    }

    #[test]
    fn arbitrary_msgpack_never_panics(value in msgpack_value()) {
        all_decoders(&value.encode());
        // Also in the positions where each endpoint expects data.
        all_decoders(&Mp::A(vec![Mp::A(vec![value.clone()])]).encode());
        all_decoders(&Mp::A(vec![Mp::A(vec![s(""), s("a")]), Mp::A(vec![Mp::A(vec![value.clone()])])]).encode());
        all_decoders(&map(vec![("chunks", Mp::A(vec![map(vec![("spans", Mp::A(vec![value]))])]))]).encode());
    }

    #[test]
    fn damaged_payloads_never_panic(
        spans in datadog_shaped_spans(),
        damage in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        for mut body in [encode_v04_msgpack(&spans), encode_v05(&spans)] {
            for (at, byte) in &damage {
                let index = at.index(body.len());
                body[index] = *byte;
            }
            all_decoders(&body);
            all_decoders(&body[..cut.index(body.len())]);
        }
    }
}
