//! The span model to Datadog spans, following Datadog's OpenTelemetry-to-Datadog mapping, and
//! exactly inverting [`super::to_model`] for spans that came from Datadog.
//!
//! - Service, operation, resource and type: [`super::naming`].
//! - Attributes: strings (and booleans, arrays, maps as text) to meta, numbers to metrics,
//!   `sampling.priority` to `_sampling_priority_v1`. Resource attributes become meta too, except
//!   those that a Datadog request carries elsewhere (the tracer's language and version, the
//!   container id: an exporter sends them as headers).
//! - The kind goes to meta `span.kind`; an unspecified kind only where the type would imply
//!   another (`web`, `http`).
//! - Status: `error` = 1 for ERROR; the last `exception` event gives `error.message`,
//!   `error.type`, `error.stack`; a status message that differs from those goes to
//!   `otel.status_description`; OK is written as `otel.status_code: OK`.
//! - The high half of the trace id goes to meta `_dd.p.tid`; chunks keep it on their first span.

use kiseki_model::{AnyValue, Attributes, Event, Span, SpanKind, StatusCode, Str, semconv};

use super::meta_json::LINK_FLAGS_SET;
use super::naming::{
    datadog_operation_name, datadog_resource_name, datadog_span_type, kind_from_span_type,
};
use super::to_model::{
    ENV, ERROR_MESSAGE, ERROR_STACK, ERROR_TYPE, HOSTNAME, SAMPLING_PRIORITY, STATUS_OK_VALUE,
    TRACE_ID_HIGH, TRACESTATE, VERSION,
};
use super::wire::{DdChunk, DdSpan, DdSpanEvent, DdSpanLink};

/// Attributes that are Datadog span fields, not meta.
const FIELD_KEYS: [&str; 4] = [
    semconv::SERVICE_NAME,
    semconv::DATADOG_OPERATION,
    semconv::DATADOG_RESOURCE,
    semconv::DATADOG_SPAN_TYPE,
];

/// Resource attributes that a Datadog request carries outside the spans.
const PAYLOAD_KEYS: [&str; 6] = [
    semconv::TELEMETRY_SDK_NAME,
    semconv::TELEMETRY_SDK_LANGUAGE,
    semconv::TELEMETRY_SDK_VERSION,
    semconv::PROCESS_RUNTIME_VERSION,
    semconv::CONTAINER_ID,
    semconv::SERVICE_INSTANCE_ID,
];

/// One span as Datadog sees it, with its chunk-level tags (`_dd.p.tid`, `_dd.hostname`) set.
pub fn model_to_dd_span(span: &Span) -> DdSpan {
    let span_type = datadog_span_type(span);
    let mut dd = DdSpan {
        service: service_name(span),
        name: Str::from(datadog_operation_name(span)),
        resource: Str::from(datadog_resource_name(span)),
        trace_id: span.trace_id.low(),
        span_id: span.span_id.get(),
        parent_id: span.parent_span_id.map_or(0, |id| id.get()),
        start: i64::try_from(span.start_time_unix_nano).unwrap_or(i64::MAX),
        duration: i64::try_from(span.duration_nanos()).unwrap_or(i64::MAX),
        error: i32::from(span.status.code == StatusCode::Error),
        span_type: Str::from(span_type.as_str()),
        ..DdSpan::default()
    };
    let mut tags = Tags::default();

    for kv in span.attributes.iter() {
        if FIELD_KEYS.contains(&kv.key.as_str()) {
            continue;
        }
        if kv.key == semconv::SAMPLING_PRIORITY
            && let Some(priority) = kv.value.as_f64()
        {
            tags.set_metric(Str::from_static(SAMPLING_PRIORITY), priority);
            continue;
        }
        // Model attribute keys are unique, so the common case needs no lookup.
        tags.push_value(kv.key.clone(), &kv.value);
    }

    // Datadog writes every kind; `unspecified` only where the type would imply another one.
    if span.kind != SpanKind::Unspecified
        || kind_from_span_type(&span_type) != SpanKind::Unspecified
    {
        tags.set_meta(Str::from_static(semconv::SPAN_KIND), Str::from_static(span.kind.as_str()));
    }
    if span.trace_id.high() != 0 {
        tags.set_meta(
            Str::from_static(TRACE_ID_HIGH),
            Str::from(format!("{:016x}", span.trace_id.high())),
        );
    }
    if !span.trace_state.is_empty() {
        tags.set_meta(Str::from_static(TRACESTATE), span.trace_state.clone());
    }
    if !span.scope.name.is_empty() {
        tags.set_meta(Str::from_static(semconv::OTEL_SCOPE_NAME), span.scope.name.clone());
    }
    if !span.scope.version.is_empty() {
        tags.set_meta(Str::from_static(semconv::OTEL_SCOPE_VERSION), span.scope.version.clone());
    }

    let exception = last_exception(&span.events);
    let mut error_message = None;
    if let Some(exception) = exception {
        for (attribute, meta) in [
            (semconv::EXCEPTION_MESSAGE, ERROR_MESSAGE),
            (semconv::EXCEPTION_TYPE, ERROR_TYPE),
            (semconv::EXCEPTION_STACKTRACE, ERROR_STACK),
        ] {
            if let Some(value) = exception.attributes.get(attribute) {
                let text = text_of(value);
                if meta == ERROR_MESSAGE {
                    error_message = Some(text.clone());
                }
                tags.set_meta(Str::from_static(meta), text);
            }
        }
    }
    match span.status.code {
        StatusCode::Error => {
            let message = &span.status.message;
            if error_message.is_none() && !message.is_empty() {
                tags.set_meta(Str::from_static(ERROR_MESSAGE), message.clone());
            } else if error_message.is_some() && error_message.as_ref() != Some(message) {
                tags.set_meta(Str::from_static(semconv::OTEL_STATUS_DESCRIPTION), message.clone());
            }
        }
        StatusCode::Ok => {
            tags.set_meta(
                Str::from_static(semconv::OTEL_STATUS_CODE),
                Str::from_static(STATUS_OK_VALUE),
            );
        }
        StatusCode::Unset => {}
    }

    let resource = &span.resource.attributes;
    let env = resource
        .get(semconv::DEPLOYMENT_ENVIRONMENT_NAME)
        .or_else(|| resource.get(semconv::DEPLOYMENT_ENVIRONMENT));
    for (meta, value) in [
        (ENV, env),
        (VERSION, resource.get(semconv::SERVICE_VERSION)),
        (HOSTNAME, resource.get(semconv::HOST_NAME)),
    ] {
        if let Some(value) = value {
            tags.set_meta_if_absent(Str::from_static(meta), text_of(value));
        }
    }
    for kv in resource.iter() {
        let key = kv.key.as_str();
        let handled = [
            semconv::SERVICE_NAME,
            semconv::DEPLOYMENT_ENVIRONMENT_NAME,
            semconv::DEPLOYMENT_ENVIRONMENT,
            semconv::SERVICE_VERSION,
            semconv::HOST_NAME,
        ];
        if !handled.contains(&key) && !PAYLOAD_KEYS.contains(&key) {
            tags.set_meta_if_absent(kv.key.clone(), text_of(&kv.value));
        }
    }

    dd.meta = tags.meta;
    dd.metrics = tags.metrics;

    // The exception that the error meta carries is not repeated as an event when the meta says
    // everything about it: it is the last event, at the span's end, with no other attributes.
    let mut events = span.events.as_slice();
    if let (Some(last), Some(exception)) = (events.last(), exception)
        && std::ptr::eq(last, exception)
        && exception_fits_meta(exception, span.end_time_unix_nano)
    {
        events = events.split_last().map_or(events, |(_, rest)| rest);
    }
    dd.span_events = events.iter().map(event_to_dd).collect();
    dd.span_links = span
        .links
        .iter()
        .map(|link| DdSpanLink {
            trace_id: link.trace_id.low(),
            trace_id_high: link.trace_id.high(),
            span_id: link.span_id.get(),
            attributes: link
                .attributes
                .iter()
                .map(|kv| (kv.key.clone(), text_of(&kv.value)))
                .collect(),
            tracestate: link.trace_state.clone(),
            flags: if link.flags == 0 { 0 } else { link.flags | LINK_FLAGS_SET },
        })
        .collect();
    dd
}

/// Spans grouped into one chunk per trace, in the order traces first appear. Chunk-level tags
/// stay on the first span that has them: `_dd.p.tid` on the first span, `_dd.hostname` where it
/// first appears and wherever it changes.
pub fn model_to_dd_chunks(spans: &[Span]) -> Vec<DdChunk> {
    let mut chunks: Vec<DdChunk> = Vec::new();
    let mut index_of = std::collections::HashMap::new();
    for span in spans {
        let index = *index_of.entry(span.trace_id).or_insert_with(|| {
            chunks.push(DdChunk::default());
            chunks.len() - 1
        });
        if let Some(chunk) = chunks.get_mut(index) {
            chunk.spans.push(model_to_dd_span(span));
        }
    }
    for chunk in &mut chunks {
        let mut hostname: Option<Str> = None;
        for (position, dd) in chunk.spans.iter_mut().enumerate() {
            if position > 0 {
                dd.meta.retain(|(key, _)| key != TRACE_ID_HIGH);
            }
            if let Some(host) = dd.meta(HOSTNAME).map(Str::new) {
                if hostname.as_ref() == Some(&host) {
                    dd.meta.retain(|(key, _)| key != HOSTNAME);
                } else if hostname.is_none() {
                    hostname = Some(host);
                }
            }
        }
    }
    chunks
}

fn service_name(span: &Span) -> Str {
    match span.attributes.get(semconv::SERVICE_NAME) {
        Some(AnyValue::Str(service)) if !service.is_empty() => service.clone(),
        _ => Str::new(span.resource.service_name()),
    }
}

fn last_exception(events: &[Event]) -> Option<&Event> {
    events.iter().rev().find(|event| event.name == semconv::EXCEPTION_EVENT)
}

/// Whether error meta alone gives back this event when the span is read again: string
/// message, type and stack trace (in that order, any of them), at the span's end.
fn exception_fits_meta(event: &Event, end_time_unix_nano: u64) -> bool {
    let mut rebuilt = Attributes::with_capacity(3);
    for key in [semconv::EXCEPTION_MESSAGE, semconv::EXCEPTION_TYPE, semconv::EXCEPTION_STACKTRACE]
    {
        if let Some(value @ AnyValue::Str(_)) = event.attributes.get(key) {
            rebuilt.push(key, value.clone());
        }
    }
    event.time_unix_nano == end_time_unix_nano
        && event.dropped_attributes_count == 0
        && !rebuilt.is_empty()
        && rebuilt == event.attributes
}

fn event_to_dd(event: &Event) -> DdSpanEvent {
    DdSpanEvent {
        time_unix_nano: event.time_unix_nano,
        name: event.name.clone(),
        attributes: event.attributes.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect(),
    }
}

/// A value as Datadog meta text.
fn text_of(value: &AnyValue) -> Str {
    match value {
        AnyValue::Str(text) => text.clone(),
        other => Str::from(other.to_string()),
    }
}

/// Meta and metrics being built, with later writes replacing earlier ones.
#[derive(Default)]
struct Tags {
    meta: Vec<(Str, Str)>,
    metrics: Vec<(Str, f64)>,
}

impl Tags {
    /// Appends an attribute whose key is not yet set: numbers to metrics, the rest to meta.
    fn push_value(&mut self, key: Str, value: &AnyValue) {
        match value {
            AnyValue::Int(int) => self.metrics.push((key, *int as f64)),
            AnyValue::Double(double) => self.metrics.push((key, *double)),
            other => self.meta.push((key, text_of(other))),
        }
    }

    fn set_meta(&mut self, key: Str, value: Str) {
        self.metrics.retain(|(k, _)| *k != key);
        match self.meta.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.meta.push((key, value)),
        }
    }

    fn set_meta_if_absent(&mut self, key: Str, value: Str) {
        if !self.meta.iter().any(|(k, _)| *k == key) && !self.metrics.iter().any(|(k, _)| *k == key)
        {
            self.meta.push((key, value));
        }
    }

    fn set_metric(&mut self, key: Str, value: f64) {
        self.meta.retain(|(k, _)| *k != key);
        match self.metrics.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.metrics.push((key, value)),
        }
    }
}
