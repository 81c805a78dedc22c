//! The span model → Zipkin v2 spans: the exact reverse of [`super::to_model`].
//!
//! What Zipkin cannot carry is lost: resource attributes other than `service.name` (Zipkin has
//! only the local endpoint's service name), attribute types (tags are strings: numbers and
//! booleans are written as their literal, bytes in base64, arrays and maps as JSON), trace flags,
//! the dropped counts of span attributes, events and links, and nanoseconds below a microsecond.

use kiseki_model::{AnyValue, Span, SpanKind, StatusCode, Str, semconv};

use super::annotation::{AnnotationEvent, annotation_value};
use super::to_model::{TAG_LINK_PREFIX, TAG_W3C_TRACESTATE, canonical_ip, link_text};
use super::values::tag_text;
use super::wire::{Annotation, Endpoint, ZipkinKind, ZipkinSpan};

pub(crate) fn from_model(span: &Span) -> ZipkinSpan {
    let mut z = ZipkinSpan::new(span.trace_id, span.span_id);
    z.set_parent(span.parent_span_id);
    z.name = span.name.clone();
    z.kind = match span.kind {
        SpanKind::Client => Some(ZipkinKind::Client),
        SpanKind::Server => Some(ZipkinKind::Server),
        SpanKind::Producer => Some(ZipkinKind::Producer),
        SpanKind::Consumer => Some(ZipkinKind::Consumer),
        SpanKind::Internal | SpanKind::Unspecified => None,
    };
    z.timestamp = span.start_time_unix_nano / 1000;
    z.duration = duration_micros(span);

    let mut local = Endpoint::default();
    if let Some(service) = span.resource.attributes.get_str(semconv::SERVICE_NAME) {
        local.set_service_name(service);
    }
    let mut remote = Endpoint::default();
    let mut tags: Vec<(Str, AnyValue)> = Vec::with_capacity(span.attributes.len() + 4);
    for kv in span.attributes.iter() {
        let key = kv.key.as_str();
        let consumed = match key {
            semconv::NETWORK_LOCAL_ADDRESS => take_ip(&mut local, &kv.value),
            semconv::NETWORK_LOCAL_PORT => take_port(&mut local, &kv.value),
            semconv::NETWORK_PEER_ADDRESS => take_ip(&mut remote, &kv.value),
            semconv::NETWORK_PEER_PORT => take_port(&mut remote, &kv.value),
            semconv::PEER_SERVICE => match kv.value.as_str() {
                Some(service) if !service.is_empty() => {
                    remote.set_service_name(service);
                    true
                }
                _ => false,
            },
            semconv::ZIPKIN_SHARED => take_flag(&mut z.shared, &kv.value),
            semconv::ZIPKIN_DEBUG => take_flag(&mut z.debug, &kv.value),
            _ => false,
        };
        if !consumed {
            tags.push((kv.key.clone(), text_value(&kv.value)));
        }
    }
    z.local_endpoint = local.non_empty();
    z.remote_endpoint = remote.non_empty();

    let mut set = |key: &str, value: Str| match tags.iter_mut().find(|(k, _)| k == key) {
        Some(existing) => existing.1 = AnyValue::Str(value),
        None => tags.push((Str::new(key), AnyValue::Str(value))),
    };
    if span.kind == SpanKind::Internal {
        set(semconv::SPAN_KIND, Str::from_static("internal"));
    }
    match span.status.code {
        StatusCode::Unset => {}
        StatusCode::Ok => {
            set(semconv::OTEL_STATUS_CODE, Str::from_static("OK"));
            if !span.status.message.is_empty() {
                set(semconv::OTEL_STATUS_DESCRIPTION, span.status.message.clone());
            }
        }
        StatusCode::Error => {
            // OpenTelemetry's exporters put the description in the `error` tag. A description
            // that reads as a boolean would read back as one, so it goes in
            // `otel.status_description` instead (which a reader prefers).
            set(semconv::OTEL_STATUS_CODE, Str::from_static("ERROR"));
            let message = &span.status.message;
            if message.eq_ignore_ascii_case("true") || message.eq_ignore_ascii_case("false") {
                set(semconv::ERROR, Str::from_static("true"));
                set(semconv::OTEL_STATUS_DESCRIPTION, message.clone());
            } else {
                set(semconv::ERROR, message.clone());
            }
        }
    }
    if !span.scope.name.is_empty() {
        set(semconv::OTEL_SCOPE_NAME, span.scope.name.clone());
    }
    if !span.scope.version.is_empty() {
        set(semconv::OTEL_SCOPE_VERSION, span.scope.version.clone());
    }
    if !span.trace_state.is_empty() {
        set(TAG_W3C_TRACESTATE, span.trace_state.clone());
    }
    for (n, link) in span.links.iter().enumerate() {
        set(&format!("{TAG_LINK_PREFIX}{n}"), Str::from(link_text(link)));
    }
    z.tags = tags;

    z.annotations = span
        .events
        .iter()
        .map(|event| Annotation {
            timestamp: event.time_unix_nano / 1000,
            value: annotation_value(&AnnotationEvent {
                name: event.name.clone(),
                attributes: event.attributes.0.clone(),
                dropped_attributes_count: event.dropped_attributes_count,
            }),
        })
        .collect();
    z
}

/// Microseconds, at least 1 for a span that lasted any time at all (Zipkin reads 0 as unknown).
fn duration_micros(span: &Span) -> u64 {
    let nanos = span.duration_nanos();
    let end_micros = span.end_time_unix_nano / 1000;
    let micros = end_micros.saturating_sub(span.start_time_unix_nano / 1000);
    if micros == 0 && nanos > 0 { 1 } else { micros }
}

fn text_value(value: &AnyValue) -> AnyValue {
    match value {
        AnyValue::Str(s) => AnyValue::Str(s.clone()),
        other => AnyValue::Str(Str::from(tag_text(other))),
    }
}

fn take_ip(endpoint: &mut Endpoint, value: &AnyValue) -> bool {
    match value.as_str().and_then(canonical_ip) {
        Some(ip) if endpoint.ip().is_none() => {
            endpoint.set_ip(ip);
            true
        }
        _ => false,
    }
}

fn take_port(endpoint: &mut Endpoint, value: &AnyValue) -> bool {
    match value.as_i64().and_then(|port| u16::try_from(port).ok()) {
        Some(port) if port != 0 && endpoint.port == 0 => {
            endpoint.port = port;
            true
        }
        _ => false,
    }
}

fn take_flag(flag: &mut bool, value: &AnyValue) -> bool {
    if value.as_bool() == Some(true) {
        *flag = true;
        true
    } else {
        false
    }
}
