//! Cross-format tests of the Jaeger codecs: payloads captured from real tracers, round trips
//! through every encoder, hostile input, and the query JSON against a hand-checked trace.

mod captures;
mod hostile;
mod query_responses;
mod round_trips;

use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, Status, StatusCode,
    TraceId,
};

use super::*;

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/tracers/");

/// One of the public decoders.
type Decoder = fn(&[u8]) -> Result<Vec<Span>, DecodeError>;

fn capture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{CAPTURES}{path}")).unwrap()
}

fn attrs(pairs: &[(&str, AnyValue)]) -> Attributes {
    pairs.iter().map(|(key, value)| KeyValue::new(*key, value.clone())).collect()
}

/// A span as Jaeger can carry it, which every decoder must give back after every encoder: times
/// in whole microseconds for Thrift, only the sampled flag (debug as `jaeger.debug=true`, last),
/// scalar tag values, no description on an unset status, a scope without attributes (and
/// without a version when it has no name), links with only their `opentracing.ref_type`, no
/// dropped counts, and `service.name` first in the resource.
fn restrict(span: &Span, micros: bool) -> Span {
    let truncate = |nanos: u64| if micros { nanos / 1000 * 1000 } else { nanos };
    let mut out = span.clone();
    out.start_time_unix_nano = truncate(span.start_time_unix_nano);
    out.end_time_unix_nano = truncate(span.end_time_unix_nano);
    out.flags = span.flags & 1;
    out.dropped_attributes_count = 0;
    out.dropped_events_count = 0;
    out.dropped_links_count = 0;
    let debug = span.attributes.get("jaeger.debug") == Some(&AnyValue::Bool(true));
    out.attributes = span
        .attributes
        .iter()
        .filter(|kv| !(kv.key == "jaeger.debug" && kv.value == AnyValue::Bool(true)))
        .map(|kv| KeyValue::new(kv.key.clone(), wire::scalar_tag_value(&kv.value)))
        .collect();
    if debug {
        out.attributes.push("jaeger.debug", true);
    }
    if span.status.code == StatusCode::Unset {
        out.status = Status::default();
    }
    let version = if span.scope.name.is_empty() { "".into() } else { span.scope.version.clone() };
    out.scope = Arc::new(Scope { name: span.scope.name.clone(), version, ..Scope::default() });
    out.events = span
        .events
        .iter()
        .map(|event| Event {
            time_unix_nano: truncate(event.time_unix_nano),
            name: event.name.clone(),
            attributes: scalars(&event.attributes),
            dropped_attributes_count: 0,
        })
        .collect();
    out.links = span
        .links
        .iter()
        .map(|link| {
            let ref_type = match link.attributes.get_str("opentracing.ref_type") {
                Some("child_of") => "child_of",
                _ => "follows_from",
            };
            Link {
                trace_id: link.trace_id,
                span_id: link.span_id,
                trace_state: "".into(),
                flags: 0,
                attributes: attrs(&[("opentracing.ref_type", ref_type.into())]),
                dropped_attributes_count: 0,
            }
        })
        .collect();
    let mut resource = Attributes::new();
    if let Some(name) = span.resource.attributes.get("service.name") {
        let name = match name {
            AnyValue::Str(text) => text.to_string(),
            other => other.to_string(),
        };
        if !name.is_empty() {
            resource.push("service.name", name);
        }
    }
    for kv in &span.resource.attributes {
        if kv.key != "service.name" {
            resource.push(kv.key.clone(), wire::scalar_tag_value(&kv.value));
        }
    }
    out.resource = Arc::new(Resource { attributes: resource, dropped_attributes_count: 0 });
    out
}

fn scalars(attributes: &Attributes) -> Attributes {
    attributes
        .iter()
        .map(|kv| KeyValue::new(kv.key.clone(), wire::scalar_tag_value(&kv.value)))
        .collect()
}

fn sample_span() -> Span {
    let mut span = Span::new(TraceId::new(0xabc).unwrap(), SpanId::new(0xdef).unwrap());
    span.name = "op".into();
    span.start_time_unix_nano = 1_700_000_000_000_000_000;
    span.end_time_unix_nano = 1_700_000_000_000_500_000;
    span.resource = Arc::new(Resource::for_service("svc"));
    span.attributes.push("k", "v");
    span
}
