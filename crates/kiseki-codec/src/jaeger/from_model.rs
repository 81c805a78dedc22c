//! The model as Jaeger spans: the reverse of [`super::to_model`].
//!
//! It writes what OpenTelemetry's Jaeger exporters and the Collector's translator
//! (`ProtoFromTraces`, which Jaeger's own query service uses) write: the scope as
//! `otel.scope.name`/`otel.scope.version` tags first, then the attributes, then `span.kind`,
//! `otel.status_code`, `error=true`, `otel.status_description` and `w3c.tracestate`; events as
//! logs with an `event` field; links as references carrying their `opentracing.ref_type`.

use std::sync::Arc;

use kiseki_model::{AnyValue, Attributes, Resource, Span, SpanKind, StatusCode, Str, semconv};

use super::to_model::{EVENT_FIELD, NO_SERVICE_NAME, REF_TYPE_CHILD_OF, W3C_TRACESTATE};
use super::wire::{
    FLAG_DEBUG, FLAG_SAMPLED, JaegerSpan, Log, Process, RefType, Reference, scalar_tag_value,
};

/// A resource as a process: `service.name` as the service name, the rest as tags. A resource
/// without attributes gets the Collector's placeholder name, which reads back as no name.
pub(crate) fn process_from_resource(resource: &Resource) -> Process {
    if resource.attributes.is_empty() {
        return Process {
            service_name: Str::from_static(NO_SERVICE_NAME),
            tags: Attributes::new(),
        };
    }
    let mut service_name = Str::default();
    let mut tags = Attributes::with_capacity(resource.attributes.len());
    for kv in &resource.attributes {
        if kv.key == semconv::SERVICE_NAME {
            service_name = match &kv.value {
                AnyValue::Str(name) => name.clone(),
                other => other.to_string().into(),
            };
        } else {
            tags.push(kv.key.clone(), scalar_tag_value(&kv.value));
        }
    }
    Process { service_name, tags }
}

/// One model span as Jaeger describes it.
pub(crate) fn span_from_model(span: &Span) -> JaegerSpan {
    let mut tags = Attributes::with_capacity(span.attributes.len() + 6);
    // A version means nothing without a name, and would not read back as the scope's.
    if !span.scope.name.is_empty() {
        tags.push(semconv::OTEL_SCOPE_NAME, span.scope.name.clone());
        if !span.scope.version.is_empty() {
            tags.push(semconv::OTEL_SCOPE_VERSION, span.scope.version.clone());
        }
    }
    let mut debug = false;
    for kv in &span.attributes {
        if kv.key == semconv::JAEGER_DEBUG && kv.value == AnyValue::Bool(true) {
            debug = true;
            continue;
        }
        tags.push(kv.key.clone(), scalar_tag_value(&kv.value));
    }
    if span.kind != SpanKind::Unspecified {
        tags.push(semconv::SPAN_KIND, Str::from_static(span.kind.as_str()));
    }
    let status = &span.status;
    if status.code != StatusCode::Unset {
        tags.push(semconv::OTEL_STATUS_CODE, Str::from_static(status.code.as_str()));
        if status.code == StatusCode::Error {
            tags.push(semconv::ERROR, true);
        }
        // An unset status has no description to carry (OpenTelemetry ignores one there).
        if !status.message.is_empty() {
            tags.push(semconv::OTEL_STATUS_DESCRIPTION, status.message.clone());
        }
    }
    if !span.trace_state.is_empty() {
        tags.push(W3C_TRACESTATE, span.trace_state.clone());
    }
    let references = span
        .links
        .iter()
        .map(|link| Reference {
            ref_type: match link.attributes.get_str(semconv::OPENTRACING_REF_TYPE) {
                Some(REF_TYPE_CHILD_OF) => RefType::ChildOf,
                _ => RefType::FollowsFrom,
            },
            trace_id: link.trace_id,
            span_id: link.span_id,
        })
        .collect();
    let logs = span
        .events
        .iter()
        .map(|event| {
            let mut fields = Attributes::with_capacity(event.attributes.len() + 1);
            if !event.name.is_empty() && event.attributes.get(EVENT_FIELD).is_none() {
                fields.push(EVENT_FIELD, event.name.clone());
            }
            for kv in &event.attributes {
                fields.push(kv.key.clone(), scalar_tag_value(&kv.value));
            }
            Log { time_unix_nano: event.time_unix_nano, fields }
        })
        .collect();
    JaegerSpan {
        trace_id: span.trace_id,
        span_id: span.span_id,
        parent_span_id: span.parent_span_id,
        operation_name: span.name.clone(),
        references,
        flags: (span.flags & FLAG_SAMPLED) | if debug { FLAG_DEBUG } else { 0 },
        start_time_unix_nano: span.start_time_unix_nano,
        end_time_unix_nano: span.end_time_unix_nano,
        tags,
        logs,
    }
}

/// Spans grouped by resource, in the order each resource first appears: one Jaeger batch each.
/// Spans that share an `Arc` are grouped without comparing; equal resources are grouped too.
pub(crate) fn group_by_resource(spans: &[Span]) -> Vec<(&Arc<Resource>, Vec<&Span>)> {
    let mut groups: Vec<(&Arc<Resource>, Vec<&Span>)> = Vec::new();
    for span in spans {
        let found = groups.iter_mut().find(|(resource, _)| {
            Arc::ptr_eq(resource, &span.resource) || **resource == span.resource
        });
        match found {
            Some((_, members)) => members.push(span),
            None => groups.push((&span.resource, vec![span])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use kiseki_model::{Event, KeyValue, Link, Scope, SpanId, Status, TraceId};

    use super::*;

    fn sample_span() -> Span {
        let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap());
        span.parent_span_id = SpanId::new(3);
        span.kind = SpanKind::Client;
        span.status = Status::error("boom");
        span.trace_state = "a=1".into();
        span.flags = 0x101;
        span.scope =
            Arc::new(Scope { name: "lib".into(), version: "2".into(), ..Scope::default() });
        span.attributes.push("jaeger.debug", true);
        span.attributes.push("list", AnyValue::Array(vec![AnyValue::Int(1)]));
        span.events.push(Event { time_unix_nano: 9, name: "e".into(), ..Event::default() });
        span.links.push(Link {
            trace_id: TraceId::new(5).unwrap(),
            span_id: SpanId::new(6).unwrap(),
            trace_state: Str::default(),
            flags: 0,
            attributes: [KeyValue::new("opentracing.ref_type", "child_of")].into_iter().collect(),
            dropped_attributes_count: 0,
        });
        span
    }

    #[test]
    fn tags_come_in_the_collectors_order() {
        let jaeger = span_from_model(&sample_span());
        let keys: Vec<&str> = jaeger.tags.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "otel.scope.name",
                "otel.scope.version",
                "list",
                "span.kind",
                "otel.status_code",
                "error",
                "otel.status_description",
                "w3c.tracestate",
            ]
        );
        assert_eq!(jaeger.tags.get_str("list"), Some("[1]"));
        assert_eq!(jaeger.flags, FLAG_SAMPLED | FLAG_DEBUG);
        assert_eq!(jaeger.references[0].ref_type, RefType::ChildOf);
        assert_eq!(jaeger.logs[0].fields.get_str("event"), Some("e"));
    }

    #[test]
    fn resource_without_attributes_gets_the_placeholder_name() {
        assert_eq!(process_from_resource(&Resource::default()).service_name, NO_SERVICE_NAME);
        let mut resource = Resource::for_service("cart");
        resource.attributes.push("host.name", "h");
        let process = process_from_resource(&resource);
        assert_eq!(process.service_name, "cart");
        assert_eq!(process.tags.len(), 1);
    }

    #[test]
    fn spans_group_by_equal_resources() {
        let a = Arc::new(Resource::for_service("a"));
        let also_a = Arc::new(Resource::for_service("a"));
        let b = Arc::new(Resource::for_service("b"));
        let spans: Vec<Span> = [&a, &b, &also_a]
            .into_iter()
            .map(|resource| {
                let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap());
                span.resource = resource.clone();
                span
            })
            .collect();
        let groups = group_by_resource(&spans);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].1.len(), 2);
    }
}
