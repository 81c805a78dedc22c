//! Zipkin v2 spans → the span model, following the OpenTelemetry Collector's Zipkin receiver.
//!
//! - `localEndpoint.serviceName` → resource `service.name` (one shared resource per service in a
//!   request; none when the span has no local service); its address and port →
//!   `network.local.address` / `network.local.port`.
//! - `remoteEndpoint` → `peer.service`, `network.peer.address`, `network.peer.port`.
//! - Tags → string attributes, except those that carry OpenTelemetry facts Zipkin has no field
//!   for: `otel.status_code`, `otel.status_description` and `error` → status;
//!   `otel.scope.*` / `otel.library.*` → scope; `w3c.tracestate` → trace state; `otlp.link.N` →
//!   links; `span.kind` → kind when Zipkin's kind is absent. Resource attributes that exporters copy
//!   into tags stay span attributes: Zipkin cannot say which tags were resource attributes.
//! - Annotations → events, in the three encodings of [`super::annotation`].
//! - `shared` → `zipkin.shared = true`, `debug` → `zipkin.debug = true`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, TraceId, semconv,
};

use super::annotation::parse_annotation;
use super::error::{DecodeError, SpanError};
use super::values::JsonObject;
use super::wire::{Endpoint, ZipkinKind, ZipkinSpan};
use crate::limits;

/// The tag the Collector's Zipkin exporter writes a span's W3C `tracestate` into.
pub(crate) const TAG_W3C_TRACESTATE: &str = "w3c.tracestate";
/// Prefix of the tags (`otlp.link.0`, `otlp.link.1`, …) the Collector writes links into.
pub(crate) const TAG_LINK_PREFIX: &str = "otlp.link.";

/// Converts decoded spans; `index` is each span's position in the request, for error messages.
pub(crate) fn to_model(spans: Vec<(usize, ZipkinSpan)>) -> Result<Vec<Span>, DecodeError> {
    let mut shared = SharedParts::default();
    let mut out = Vec::with_capacity(spans.len());
    for (index, span) in spans {
        out.push(span_to_model(span, &mut shared).map_err(|e| e.at(index))?);
    }
    inherit_local_service(&mut out);
    Ok(out)
}

/// Gives spans without a local endpoint the service of their parent in the same request.
///
/// Tracers leave the endpoint off spans that stay inside the process (py_zipkin's local spans
/// carry no annotation at all), so in Zipkin's own UI they show no service. Their parent, sent
/// in the same request, is in the same process: its service is theirs. The server half of a
/// shared span is preferred over the client half, since children of a shared id were made on
/// the server's side.
fn inherit_local_service(spans: &mut [Span]) {
    let has_service = |span: &Span| span.resource.attributes.get(semconv::SERVICE_NAME).is_some();
    loop {
        let mut by_id: HashMap<(TraceId, SpanId), Arc<Resource>> = HashMap::new();
        for span in spans.iter().filter(|s| has_service(s)) {
            let key = (span.trace_id, span.span_id);
            if span.kind != SpanKind::Client || !by_id.contains_key(&key) {
                by_id.insert(key, Arc::clone(&span.resource));
            }
        }
        let mut changed = false;
        for span in spans.iter_mut().filter(|s| !has_service(s)) {
            let inherited =
                span.parent_span_id.and_then(|parent| by_id.get(&(span.trace_id, parent)));
            if let Some(resource) = inherited {
                span.resource = Arc::clone(resource);
                changed = true;
            }
        }
        // Each pass reaches one level deeper into chains of local spans.
        if !changed {
            return;
        }
    }
}

/// Resources and scopes already built in this request, so spans share them.
#[derive(Default)]
struct SharedParts {
    resources: HashMap<Option<Str>, Arc<Resource>>,
    scopes: HashMap<(Str, Str), Arc<Scope>>,
}

impl SharedParts {
    fn resource(&mut self, service_name: Option<Str>) -> Arc<Resource> {
        self.resources
            .entry(service_name)
            .or_insert_with_key(|name| {
                Arc::new(match name {
                    Some(name) => Resource::for_service(name.clone()),
                    None => Resource::default(),
                })
            })
            .clone()
    }

    fn scope(&mut self, name: Str, version: Str) -> Arc<Scope> {
        self.scopes
            .entry((name, version))
            .or_insert_with_key(|(name, version)| {
                Arc::new(Scope { name: name.clone(), version: version.clone(), ..Scope::default() })
            })
            .clone()
    }
}

fn span_to_model(z: ZipkinSpan, shared: &mut SharedParts) -> Result<Span, SpanError> {
    let mut attributes: Attributes =
        z.tags.into_iter().map(|(key, value)| KeyValue { key, value }).collect();

    let status = take_status(&mut attributes);
    let (scope_name, scope_version) = take_scope(&mut attributes);
    let trace_state = take_str(&mut attributes, TAG_W3C_TRACESTATE).unwrap_or_default();
    let links = take_links(&mut attributes)?;
    let kind = match z.kind {
        Some(kind) => model_kind(kind),
        None => take_kind_tag(&mut attributes),
    };

    if let Some(local) = &z.local_endpoint {
        set_address(
            &mut attributes,
            local,
            semconv::NETWORK_LOCAL_ADDRESS,
            semconv::NETWORK_LOCAL_PORT,
        );
    }
    if let Some(remote) = &z.remote_endpoint {
        if let Some(service) = &remote.service_name {
            attributes.set(semconv::PEER_SERVICE, service.clone());
        }
        set_address(
            &mut attributes,
            remote,
            semconv::NETWORK_PEER_ADDRESS,
            semconv::NETWORK_PEER_PORT,
        );
    }
    if z.shared {
        attributes.set(semconv::ZIPKIN_SHARED, true);
    }
    if z.debug {
        attributes.set(semconv::ZIPKIN_DEBUG, true);
    }
    limits::check_attributes(&attributes)?;

    let start_time_unix_nano = micros_to_nanos("timestamp", z.timestamp)?;
    let end_time_unix_nano = start_time_unix_nano
        .checked_add(micros_to_nanos("duration", z.duration)?)
        .ok_or(SpanError::TimeOutOfRange { field: "duration", value: i128::from(z.duration) })?;

    limits::check_event_count(z.annotations.len().saturating_sub(1))?;
    let mut events = Vec::with_capacity(z.annotations.len());
    for annotation in &z.annotations {
        let parsed = parse_annotation(&annotation.value);
        let attributes = Attributes(parsed.attributes);
        limits::check_attributes(&attributes)?;
        events.push(Event {
            time_unix_nano: micros_to_nanos("annotation timestamp", annotation.timestamp)?,
            name: parsed.name,
            attributes,
            dropped_attributes_count: parsed.dropped_attributes_count,
        });
    }

    let service_name = z.local_endpoint.and_then(|local| local.service_name);
    let mut span = Span::new(z.trace_id, z.id);
    span.parent_span_id = z.parent_id;
    span.trace_state = trace_state;
    span.name = z.name;
    span.kind = kind;
    span.start_time_unix_nano = start_time_unix_nano;
    span.end_time_unix_nano = end_time_unix_nano;
    span.attributes = attributes;
    span.events = events;
    span.links = links;
    span.status = status;
    span.resource = shared.resource(service_name);
    span.scope = shared.scope(scope_name, scope_version);
    Ok(span)
}

pub(crate) fn model_kind(kind: ZipkinKind) -> SpanKind {
    match kind {
        ZipkinKind::Client => SpanKind::Client,
        ZipkinKind::Server => SpanKind::Server,
        ZipkinKind::Producer => SpanKind::Producer,
        ZipkinKind::Consumer => SpanKind::Consumer,
    }
}

fn micros_to_nanos(field: &'static str, micros: u64) -> Result<u64, SpanError> {
    micros.checked_mul(1000).ok_or(SpanError::TimeOutOfRange { field, value: i128::from(micros) })
}

fn set_address(
    attributes: &mut Attributes,
    endpoint: &Endpoint,
    address_key: &str,
    port_key: &str,
) {
    if let Some(ip) = endpoint.ip() {
        attributes.set(address_key, ip.to_string());
    }
    if endpoint.port != 0 {
        attributes.set(port_key, i64::from(endpoint.port));
    }
}

/// Removes a string attribute and returns it; other types stay where they are.
fn take_str(attributes: &mut Attributes, key: &str) -> Option<Str> {
    take_if(attributes, key, |value| value.as_str().is_some()).and_then(|value| match value {
        AnyValue::Str(s) => Some(s),
        _ => None,
    })
}

/// Removes an attribute whose value passes `accept`.
fn take_if(
    attributes: &mut Attributes,
    key: &str,
    accept: impl FnOnce(&AnyValue) -> bool,
) -> Option<AnyValue> {
    let index = attributes.iter().position(|kv| kv.key == key)?;
    if !accept(&attributes[index].value) {
        return None;
    }
    Some(attributes.0.remove(index).value)
}

fn parse_status_code(text: &str) -> Option<StatusCode> {
    let text = text.strip_prefix("STATUS_CODE_").unwrap_or(text);
    [StatusCode::Unset, StatusCode::Ok, StatusCode::Error]
        .into_iter()
        .find(|code| code.as_str().eq_ignore_ascii_case(text))
}

/// Status from `otel.status_code` / `otel.status_description` and Zipkin's `error` tag.
///
/// Any `error` tag other than `false` marks the span failed, as Zipkin's UI reads it, even when
/// `otel.status_code` says `OK`. Its value is the message (OpenTelemetry's exporters write the
/// status description there) unless it is empty or `true`; `otel.status_description` is
/// preferred when both are present. Tags that do not parse stay attributes.
fn take_status(attributes: &mut Attributes) -> Status {
    let mut status = Status::default();
    let code = take_if(attributes, semconv::OTEL_STATUS_CODE, |value| {
        value.as_str().and_then(parse_status_code).is_some()
    });
    let description = match code.as_ref().and_then(AnyValue::as_str).and_then(parse_status_code) {
        Some(code) => {
            status.code = code;
            take_str(attributes, semconv::OTEL_STATUS_DESCRIPTION)
        }
        None => None,
    };
    let error = take_if(attributes, semconv::ERROR, |value| match value {
        AnyValue::Str(s) => !s.eq_ignore_ascii_case("false"),
        AnyValue::Bool(v) => *v,
        _ => false,
    });
    if let Some(error) = error {
        status.code = StatusCode::Error;
        let description = description.clone().filter(|d| !d.is_empty());
        let from_tag = error
            .as_str()
            .filter(|text| !text.is_empty() && !text.eq_ignore_ascii_case("true"))
            .map(Str::new);
        status.message = description.or(from_tag).unwrap_or_default();
        return status;
    }
    // The description was consumed only because a code was there to go with it.
    if let Some(description) = description {
        if status.code == StatusCode::Unset {
            attributes.push(semconv::OTEL_STATUS_DESCRIPTION, description);
        } else {
            status.message = description;
        }
    }
    status
}

/// Scope name and version from `otel.scope.*`, or the older `otel.library.*`. An older tag that
/// disagrees with the newer one stays an attribute.
fn take_scope(attributes: &mut Attributes) -> (Str, Str) {
    let mut take = |new_key: &str, old_key: &str| -> Str {
        let new = take_str(attributes, new_key);
        let old_agrees = |value: &AnyValue| match (&new, value.as_str()) {
            (None, Some(_)) => true,
            (Some(new), Some(old)) => new == old,
            _ => false,
        };
        let old = take_if(attributes, old_key, old_agrees);
        match (new, old) {
            (Some(new), _) => new,
            (None, Some(AnyValue::Str(old))) => old,
            _ => Str::default(),
        }
    };
    let name = take(semconv::OTEL_SCOPE_NAME, semconv::OTEL_LIBRARY_NAME);
    let version = take(semconv::OTEL_SCOPE_VERSION, semconv::OTEL_LIBRARY_VERSION);
    (name, version)
}

/// A kind from OpenTracing's `span.kind` tag, for spans that Zipkin gave no kind (INTERNAL spans
/// written by the Collector carry `span.kind=internal`).
fn take_kind_tag(attributes: &mut Attributes) -> SpanKind {
    let parsed = |value: &AnyValue| value.as_str().and_then(SpanKind::from_name);
    match take_if(attributes, semconv::SPAN_KIND, |value| parsed(value).is_some()) {
        Some(value) => parsed(&value).unwrap_or_default(),
        None => SpanKind::Unspecified,
    }
}

/// Links from the Collector's `otlp.link.N` tags: `traceid|spanid|tracestate|{attrs}|dropped`.
/// Numbering stops at the first missing N; a tag that does not parse stays an attribute.
fn take_links(attributes: &mut Attributes) -> Result<Vec<Link>, SpanError> {
    let mut links = Vec::new();
    if !attributes.iter().any(|kv| kv.key.starts_with(TAG_LINK_PREFIX)) {
        return Ok(links);
    }
    for n in 0..limits::MAX_LINKS {
        let key = format!("{TAG_LINK_PREFIX}{n}");
        let Some(value) = attributes.get_str(&key) else { break };
        let Some(link) = parse_link(value) else { continue };
        limits::check_attributes(&link.attributes)?;
        attributes.remove(&key);
        links.push(link);
    }
    Ok(links)
}

fn parse_link(text: &str) -> Option<Link> {
    let mut head = text.splitn(4, '|');
    let trace_id = TraceId::from_hex(head.next()?).ok()?;
    let span_id = SpanId::from_hex(head.next()?).ok()?;
    let trace_state = Str::new(head.next()?);
    let (json, dropped) = head.next()?.rsplit_once('|')?;
    let JsonObject(attributes) = serde_json::from_str(json).ok()?;
    Some(Link {
        trace_id,
        span_id,
        trace_state,
        flags: 0,
        attributes: Attributes(attributes),
        dropped_attributes_count: dropped.parse().ok()?,
    })
}

/// Formats a link as [`parse_link`] reads it.
pub(crate) fn link_text(link: &Link) -> String {
    use super::values::{JsonObjectOut, to_json_text};
    format!(
        "{}|{}|{}|{}|{}",
        link.trace_id,
        link.span_id,
        link.trace_state,
        to_json_text(&JsonObjectOut(&link.attributes)),
        link.dropped_attributes_count
    )
}

/// An address attribute as an IP, only when it is written exactly as the IP prints, so that
/// moving it into an endpoint and back gives the same text.
pub(crate) fn canonical_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().filter(|ip| ip.to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zipkin::wire::Annotation;

    fn span() -> ZipkinSpan {
        ZipkinSpan::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap())
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(Str, AnyValue)> {
        pairs.iter().map(|(k, v)| (Str::new(k), AnyValue::from(*v))).collect()
    }

    fn convert(z: ZipkinSpan) -> Span {
        to_model(vec![(0, z)]).unwrap().remove(0)
    }

    #[test]
    fn status_from_otel_tags_and_error_tag() {
        type Case<'a> = (&'a [(&'a str, &'a str)], StatusCode, &'a str, &'a [&'a str]);
        let cases: &[Case] = &[
            (&[("otel.status_code", "OK")], StatusCode::Ok, "", &[]),
            (&[("otel.status_code", "ERROR"), ("error", "boom")], StatusCode::Error, "boom", &[]),
            (
                &[("otel.status_code", "STATUS_CODE_ERROR"), ("otel.status_description", "d")],
                StatusCode::Error,
                "d",
                &[],
            ),
            (
                &[("error", "true"), ("otel.status_description", "x")],
                StatusCode::Error,
                "",
                &["otel.status_description"],
            ),
            (&[("error", "")], StatusCode::Error, "", &[]),
            (&[("error", "false")], StatusCode::Unset, "", &["error"]),
            (&[("otel.status_code", "OK"), ("error", "late")], StatusCode::Error, "late", &[]),
            (&[("otel.status_code", "maybe")], StatusCode::Unset, "", &["otel.status_code"]),
        ];
        for (input, code, message, left) in cases {
            let mut z = span();
            z.tags = tags(input);
            let s = convert(z);
            assert_eq!(s.status.code, *code, "{input:?}");
            assert_eq!(s.status.message, *message, "{input:?}");
            let keys: Vec<&str> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
            assert_eq!(keys, *left, "{input:?}");
        }
    }

    #[test]
    fn scope_kind_tracestate_and_links_come_out_of_tags() {
        let mut z = span();
        z.tags = tags(&[
            ("otel.library.name", "lib"),
            ("otel.scope.name", "lib"),
            ("otel.library.version", "0.9"),
            ("span.kind", "internal"),
            ("w3c.tracestate", "a=1"),
            ("otlp.link.0", "0000000000000000000000000000000a|000000000000000b|k=v|{\"n\":1}|2"),
            ("otlp.link.1", "broken"),
            ("keep", "me"),
        ]);
        let s = convert(z);
        assert_eq!((s.scope.name.as_str(), s.scope.version.as_str()), ("lib", "0.9"));
        assert_eq!(s.kind, SpanKind::Internal);
        assert_eq!(s.trace_state, "a=1");
        assert_eq!(s.links.len(), 1);
        assert_eq!(s.links[0].trace_id, TraceId::new(10).unwrap());
        assert_eq!(s.links[0].attributes.get("n"), Some(&AnyValue::Int(1)));
        assert_eq!(s.links[0].dropped_attributes_count, 2);
        let keys: Vec<&str> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["otlp.link.1", "keep"]);
    }

    #[test]
    fn endpoints_become_resource_and_network_attributes() {
        let mut z = span();
        z.kind = Some(ZipkinKind::Client);
        z.tags = tags(&[("peer.service", "from-tag")]);
        let mut local = Endpoint::default();
        local.set_service_name("frontend");
        local.set_ip_text("10.1.2.3");
        local.port = 8080;
        let mut remote = Endpoint::default();
        remote.set_service_name("backend");
        remote.set_ip_text("2001:db8::1");
        remote.port = 443;
        z.local_endpoint = Some(local);
        z.remote_endpoint = Some(remote);
        z.shared = true;
        z.debug = true;
        let s = convert(z);
        assert_eq!(s.kind, SpanKind::Client);
        assert_eq!(s.service_name(), "frontend");
        let a = &s.attributes;
        assert_eq!(a.get_str(semconv::PEER_SERVICE), Some("backend"));
        assert_eq!(a.get_str(semconv::NETWORK_LOCAL_ADDRESS), Some("10.1.2.3"));
        assert_eq!(a.get(semconv::NETWORK_LOCAL_PORT), Some(&AnyValue::Int(8080)));
        assert_eq!(a.get_str(semconv::NETWORK_PEER_ADDRESS), Some("2001:db8::1"));
        assert_eq!(a.get(semconv::NETWORK_PEER_PORT), Some(&AnyValue::Int(443)));
        assert_eq!(a.get(semconv::ZIPKIN_SHARED), Some(&AnyValue::Bool(true)));
        assert_eq!(a.get(semconv::ZIPKIN_DEBUG), Some(&AnyValue::Bool(true)));
        assert_eq!(a.len(), 7);
    }

    #[test]
    fn spans_without_an_endpoint_take_their_parents_service() {
        let mut root = span();
        root.id = SpanId::new(1).unwrap();
        root.local_endpoint =
            Some(Endpoint { service_name: Some("cart".into()), ..Endpoint::default() });
        let mut child = span();
        child.id = SpanId::new(2).unwrap();
        child.parent_id = SpanId::new(1);
        let mut grandchild = span();
        grandchild.id = SpanId::new(3).unwrap();
        grandchild.parent_id = SpanId::new(2);
        let mut orphan = span();
        orphan.id = SpanId::new(4).unwrap();
        orphan.parent_id = SpanId::new(99);
        let out = to_model(vec![(0, grandchild), (1, child), (2, root), (3, orphan)]).unwrap();
        assert_eq!(out[0].service_name(), "cart");
        assert_eq!(out[1].service_name(), "cart");
        assert_eq!(out[3].service_name(), "unknown_service");
    }

    #[test]
    fn spans_of_one_service_share_one_resource() {
        let mut spans = Vec::new();
        for (i, service) in ["a", "b", "a", ""].into_iter().enumerate() {
            let mut z =
                ZipkinSpan::new(TraceId::new(1).unwrap(), SpanId::new(i as u64 + 1).unwrap());
            let mut local = Endpoint::default();
            local.set_service_name(service);
            z.local_endpoint = local.non_empty();
            spans.push((i, z));
        }
        let out = to_model(spans).unwrap();
        assert!(Arc::ptr_eq(&out[0].resource, &out[2].resource));
        assert!(!Arc::ptr_eq(&out[0].resource, &out[1].resource));
        assert!(out[3].resource.attributes.is_empty());
        assert!(Arc::ptr_eq(&out[0].scope, &out[3].scope));
    }

    #[test]
    fn times_and_events_convert_from_microseconds() {
        let mut z = span();
        z.timestamp = 1_700_000_000_000_000;
        z.duration = 1500;
        z.annotations =
            vec![Annotation { timestamp: 1_700_000_000_000_100, value: Str::new("ws") }];
        let s = convert(z);
        assert_eq!(s.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(s.duration_nanos(), 1_500_000);
        assert_eq!(s.events[0].time_unix_nano, 1_700_000_000_000_100_000);
        assert_eq!(s.events[0].name, "ws");

        let mut z = span();
        z.timestamp = u64::MAX / 10;
        let err = to_model(vec![(4, z)]).unwrap_err();
        assert!(err.to_string().starts_with("span 4: timestamp "), "{err}");
    }
}
