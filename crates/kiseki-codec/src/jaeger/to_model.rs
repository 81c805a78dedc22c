//! Jaeger spans into the model, following the OpenTelemetry Collector's Jaeger receiver.
//!
//! The Collector's rules (`pkg/translator/jaeger`) are what tools expect a Jaeger span to mean in
//! OpenTelemetry terms: the process becomes the resource, the `span.kind`, `error`,
//! `otel.status_code`, `otel.scope.name` and `w3c.tracestate` tags become the span's own fields,
//! logs become events and references other than the parent become links. Where kiseki departs
//! from it, the function says so.

use std::collections::HashMap;
use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, semconv,
};

use super::wire::{FLAG_DEBUG, FLAG_SAMPLED, JaegerSpan, Log, Process, RefType, Reference};
use crate::limits::{self, LimitError};

/// The service name the Collector writes for a resource without attributes; it means "none".
pub(crate) const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
/// The process tag Jaeger clients use for the host name.
const HOSTNAME: &str = "hostname";
/// The tag Jaeger's OpenTelemetry translators use for W3C `tracestate`.
pub(crate) const W3C_TRACESTATE: &str = "w3c.tracestate";
/// The log field that names a log, as OpenTracing defines it.
pub(crate) const EVENT_FIELD: &str = "event";
/// The log field OpenTracing uses for a log's text, and OpenTelemetry's Python exporters for the
/// event name.
const MESSAGE_FIELD: &str = "message";
/// OpenTracing's HTTP status tags, read when no other status was given.
const HTTP_STATUS_CODE: &str = "http.status_code";
const HTTP_STATUS_MESSAGE: &str = "http.status_message";
/// `opentracing.ref_type` values.
pub(crate) const REF_TYPE_CHILD_OF: &str = "child_of";
pub(crate) const REF_TYPE_FOLLOWS_FROM: &str = "follows_from";

/// A process as a resource: `serviceName` as `service.name`, then the tags in order, `hostname`
/// renamed to `host.name` unless the process also has `host.name`.
pub(crate) fn resource_from_process(process: Process) -> Result<Resource, LimitError> {
    let Process { service_name, tags } = process;
    let mut attributes = Attributes::with_capacity(tags.len() + 1);
    if !service_name.is_empty() && service_name != NO_SERVICE_NAME {
        attributes.push(semconv::SERVICE_NAME, service_name);
    }
    let has_host_name = tags.iter().any(|kv| kv.key == semconv::HOST_NAME);
    for KeyValue { key, value } in tags.0 {
        // A `service.name` tag overrides `serviceName`, as the Collector's map lets it.
        if key == semconv::SERVICE_NAME
            && let Some(kv) = attributes.iter_mut().find(|kv| kv.key == key)
        {
            kv.value = value;
            continue;
        }
        limits::check_attribute_count(attributes.len())?;
        let key = if key == HOSTNAME && !has_host_name { semconv::HOST_NAME.into() } else { key };
        attributes.push(key, value);
    }
    Ok(Resource { attributes, dropped_attributes_count: 0 })
}

/// Hands out one shared scope per distinct name and version among the spans of one payload.
#[derive(Debug, Default)]
pub(crate) struct ScopeCache {
    scopes: HashMap<(Str, Str), Arc<Scope>>,
}

impl ScopeCache {
    fn get(&mut self, name: Str, version: Str) -> Arc<Scope> {
        self.scopes
            .entry((name, version))
            .or_insert_with_key(|(name, version)| {
                Arc::new(Scope { name: name.clone(), version: version.clone(), ..Scope::default() })
            })
            .clone()
    }
}

/// One Jaeger span as a model span of the given resource.
pub(crate) fn span_to_model(
    jaeger: JaegerSpan,
    resource: Arc<Resource>,
    scopes: &mut ScopeCache,
) -> Result<Span, LimitError> {
    let JaegerSpan {
        trace_id,
        span_id,
        parent_span_id,
        operation_name,
        references,
        flags,
        start_time_unix_nano,
        end_time_unix_nano,
        tags,
        logs,
    } = jaeger;
    let mut attributes = tags;
    let mut span = Span::new(trace_id, span_id);
    span.name = operation_name;
    span.start_time_unix_nano = start_time_unix_nano;
    span.end_time_unix_nano = end_time_unix_nano;
    span.flags = flags & FLAG_SAMPLED;
    span.resource = resource;
    span.scope = take_scope(&mut attributes, scopes);
    span.kind = take_kind(&mut attributes);
    if let Some(status) = take_status(&mut attributes, span.kind) {
        span.status = status;
    }
    if let Some(trace_state) = take_str(&mut attributes, W3C_TRACESTATE) {
        span.trace_state = trace_state;
    }
    if flags & FLAG_DEBUG != 0 {
        if attributes.get(semconv::JAEGER_DEBUG).is_none() {
            limits::check_attribute_count(attributes.len())?;
        }
        attributes.set(semconv::JAEGER_DEBUG, true);
    }
    span.attributes = attributes;
    span.parent_span_id = parent_span_id.or_else(|| parent_reference(&references, &span));
    span.links = links_from_references(references, span.parent_span_id)?;
    span.events = events_from_logs(logs)?;
    Ok(span)
}

/// `otel.scope.name` and `otel.scope.version`, or the older `otel.library.*` pair, as the scope.
/// The version is read only together with a name, as the Collector reads it. An `otel.library.*`
/// pair that repeats the scope is dropped; one that differs stays an attribute.
fn take_scope(attributes: &mut Attributes, scopes: &mut ScopeCache) -> Arc<Scope> {
    let pairs = [
        (semconv::OTEL_SCOPE_NAME, semconv::OTEL_SCOPE_VERSION),
        (semconv::OTEL_LIBRARY_NAME, semconv::OTEL_LIBRARY_VERSION),
    ];
    for (i, (name_key, version_key)) in pairs.into_iter().enumerate() {
        if let Some(name) = take_str(attributes, name_key) {
            let version = take_str(attributes, version_key).unwrap_or_default();
            // Exporters that send both pairs send the same scope twice; drop the older copy.
            for (other_name, other_version) in pairs.into_iter().skip(i + 1) {
                if attributes.get_str(other_name) == Some(name.as_str())
                    && attributes.get_str(other_version).unwrap_or_default() == version.as_str()
                {
                    attributes.remove(other_name);
                    attributes.remove(other_version);
                }
            }
            return scopes.get(name, version);
        }
    }
    scopes.get(Str::default(), Str::default())
}

/// The `span.kind` tag as the kind. Unlike the Collector, which drops any `span.kind` tag, a
/// value that names no kind stays an attribute so that what the tracer sent is not lost.
fn take_kind(attributes: &mut Attributes) -> SpanKind {
    let Some(kind) = attributes.get_str(semconv::SPAN_KIND).and_then(SpanKind::from_name) else {
        return SpanKind::Unspecified;
    };
    attributes.remove(semconv::SPAN_KIND);
    kind
}

/// The status, exactly as the Collector derives it: a boolean `error=true` tag first (with
/// `otel.status_description`, else `http.status_message`, as the message); else
/// `otel.status_code` (`OK`/`ERROR`, any case); else `http.status_code` by the HTTP rules.
/// `error=true`, `otel.status_code` and a used `otel.status_description` are removed; a
/// boolean `error=false` stays an attribute.
fn take_status(attributes: &mut Attributes, kind: SpanKind) -> Option<Status> {
    let mut status = None;
    if attributes.get(semconv::ERROR) == Some(&AnyValue::Bool(true)) {
        attributes.remove(semconv::ERROR);
        let message = take_description(attributes)
            .or_else(|| attributes.get(HTTP_STATUS_MESSAGE).map(value_as_str))
            .unwrap_or_default();
        status = Some(Status { code: StatusCode::Error, message });
    }
    if let Some(code) = attributes.remove(semconv::OTEL_STATUS_CODE) {
        if status.is_none() {
            let code = match code.as_str() {
                Some(text) if text.eq_ignore_ascii_case("OK") => StatusCode::Ok,
                Some(text) if text.eq_ignore_ascii_case("ERROR") => StatusCode::Error,
                _ => StatusCode::Unset,
            };
            let message = take_description(attributes).unwrap_or_default();
            status = Some(Status { code, message });
        }
    } else if status.is_none()
        && let Some(http_code) = attributes.get(HTTP_STATUS_CODE).and_then(http_status_number)
    {
        let code = status_from_http(http_code, kind);
        if code != StatusCode::Unset {
            let message = attributes.get(HTTP_STATUS_MESSAGE).map(value_as_str).unwrap_or_default();
            status = Some(Status { code, message });
        }
    }
    status
}

fn take_description(attributes: &mut Attributes) -> Option<Str> {
    attributes.remove(semconv::OTEL_STATUS_DESCRIPTION).map(|value| value_as_str(&value))
}

/// A tag read as text the way the Collector reads it (`Value.Str()`): empty unless a string.
fn value_as_str(value: &AnyValue) -> Str {
    match value {
        AnyValue::Str(text) => text.clone(),
        _ => Str::default(),
    }
}

/// An HTTP status from an integer tag or a decimal string tag.
fn http_status_number(value: &AnyValue) -> Option<i64> {
    match value {
        AnyValue::Int(number) => Some(*number),
        AnyValue::Str(text) => text.parse().ok(),
        _ => None,
    }
}

/// 4xx is an error for a client and not for a server; anything outside 100..=398 is an error.
fn status_from_http(code: i64, kind: SpanKind) -> StatusCode {
    if (400..500).contains(&code) {
        match kind {
            SpanKind::Client => return StatusCode::Error,
            SpanKind::Server => return StatusCode::Unset,
            _ => {}
        }
    }
    if (100..399).contains(&code) { StatusCode::Unset } else { StatusCode::Error }
}

fn take_str(attributes: &mut Attributes, key: &str) -> Option<Str> {
    match attributes.get(key) {
        Some(AnyValue::Str(_)) => match attributes.remove(key) {
            Some(AnyValue::Str(text)) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// Without a `parentSpanId`, the first `CHILD_OF` reference into the same trace is the parent.
/// Jaeger would fall back to a `FOLLOWS_FROM` reference; kiseki does not, because
/// OpenTelemetry exporters send every link as `FOLLOWS_FROM` and a root with a link into its own
/// trace would otherwise gain a parent.
fn parent_reference(references: &[Reference], span: &Span) -> Option<SpanId> {
    references
        .iter()
        .find(|r| r.ref_type == RefType::ChildOf && r.trace_id == span.trace_id)
        .map(|r| r.span_id)
}

/// Every reference except a `CHILD_OF` one to the parent, as a link carrying its type in
/// `opentracing.ref_type`.
fn links_from_references(
    references: Vec<Reference>,
    parent: Option<SpanId>,
) -> Result<Vec<Link>, LimitError> {
    let mut links = Vec::new();
    for reference in references {
        if reference.ref_type == RefType::ChildOf && Some(reference.span_id) == parent {
            continue;
        }
        limits::check_link_count(links.len())?;
        let ref_type = match reference.ref_type {
            RefType::ChildOf => REF_TYPE_CHILD_OF,
            RefType::FollowsFrom => REF_TYPE_FOLLOWS_FROM,
        };
        let mut attributes = Attributes::with_capacity(1);
        attributes.push(semconv::OPENTRACING_REF_TYPE, Str::from_static(ref_type));
        links.push(Link {
            trace_id: reference.trace_id,
            span_id: reference.span_id,
            trace_state: Str::default(),
            flags: 0,
            attributes,
            dropped_attributes_count: 0,
        });
    }
    Ok(links)
}

/// Logs as events: a string `event` field names the event. A log without one but with a string
/// `message` field is named by it: OpenTelemetry's Python Jaeger exporters name events so
/// (the Collector would leave such events unnamed). A log with `event=error` is an
/// OpenTracing error log and becomes an `exception` event as OpenTelemetry's OpenTracing shim
/// records it: `error.kind`, `message` and `stack` are renamed to `exception.type`,
/// `exception.message` and `exception.stacktrace` (unless those keys are present already).
fn events_from_logs(logs: Vec<Log>) -> Result<Vec<Event>, LimitError> {
    let mut events = Vec::with_capacity(logs.len());
    for Log { time_unix_nano, fields } in logs {
        limits::check_event_count(events.len())?;
        let mut attributes = fields;
        let mut name = take_str(&mut attributes, EVENT_FIELD)
            .or_else(|| take_str(&mut attributes, MESSAGE_FIELD))
            .unwrap_or_default();
        if name == "error" {
            name = Str::from_static(semconv::EXCEPTION_EVENT);
            for (from, to) in [
                ("error.kind", semconv::EXCEPTION_TYPE),
                ("message", semconv::EXCEPTION_MESSAGE),
                ("stack", semconv::EXCEPTION_STACKTRACE),
            ] {
                if attributes.get(to).is_none()
                    && let Some(kv) = attributes.iter_mut().find(|kv| kv.key == from)
                {
                    kv.key = Str::from_static(to);
                }
            }
        }
        events.push(Event { time_unix_nano, name, attributes, dropped_attributes_count: 0 });
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use kiseki_model::TraceId;

    use super::*;

    fn attrs(pairs: &[(&str, AnyValue)]) -> Attributes {
        pairs.iter().map(|(k, v)| KeyValue::new(*k, v.clone())).collect()
    }

    fn jaeger_span(tags: Attributes) -> JaegerSpan {
        JaegerSpan {
            trace_id: TraceId::new(7).unwrap(),
            span_id: SpanId::new(8).unwrap(),
            parent_span_id: None,
            operation_name: "op".into(),
            references: Vec::new(),
            flags: 0,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 3_000,
            tags,
            logs: Vec::new(),
        }
    }

    fn convert(span: JaegerSpan) -> Span {
        span_to_model(span, Arc::default(), &mut ScopeCache::default()).unwrap()
    }

    #[test]
    fn process_becomes_resource_with_host_name() {
        let process = Process {
            service_name: "cart".into(),
            tags: attrs(&[("hostname", "h1".into()), ("ip", "10.0.0.1".into())]),
        };
        let resource = resource_from_process(process).unwrap();
        assert_eq!(
            resource.attributes,
            attrs(&[
                ("service.name", "cart".into()),
                ("host.name", "h1".into()),
                ("ip", "10.0.0.1".into()),
            ])
        );
        let both = Process {
            service_name: NO_SERVICE_NAME.into(),
            tags: attrs(&[("hostname", "h1".into()), ("host.name", "h2".into())]),
        };
        let resource = resource_from_process(both).unwrap();
        assert_eq!(resource.attributes.get_str("hostname"), Some("h1"));
        assert_eq!(resource.attributes.get_str("host.name"), Some("h2"));
        assert_eq!(resource.attributes.get("service.name"), None);
    }

    #[test]
    fn kind_tag_becomes_kind_and_unknown_kinds_stay() {
        let span = convert(jaeger_span(attrs(&[("span.kind", "server".into())])));
        assert_eq!(span.kind, SpanKind::Server);
        assert!(span.attributes.is_empty());
        let span = convert(jaeger_span(attrs(&[("span.kind", "rpc".into())])));
        assert_eq!(span.kind, SpanKind::Unspecified);
        assert_eq!(span.attributes.get_str("span.kind"), Some("rpc"));
    }

    #[test]
    fn error_tag_wins_over_otel_status_code() {
        let span = convert(jaeger_span(attrs(&[
            ("otel.status_code", "OK".into()),
            ("error", true.into()),
            ("otel.status_description", "boom".into()),
            ("keep", 1i64.into()),
        ])));
        assert_eq!(span.status, Status::error("boom"));
        assert_eq!(span.attributes, attrs(&[("keep", 1i64.into())]));
    }

    #[test]
    fn error_false_and_string_error_stay_attributes() {
        let span = convert(jaeger_span(attrs(&[("error", false.into())])));
        assert_eq!(span.status, Status::default());
        assert_eq!(span.attributes.get("error"), Some(&AnyValue::Bool(false)));
        let span = convert(jaeger_span(attrs(&[("error", "true".into())])));
        assert_eq!(span.status.code, StatusCode::Unset);
        assert_eq!(span.attributes.get_str("error"), Some("true"));
    }

    #[test]
    fn otel_status_code_sets_status_in_any_case() {
        let span = convert(jaeger_span(attrs(&[
            ("otel.status_code", "ok".into()),
            ("otel.status_description", "fine".into()),
        ])));
        assert_eq!(span.status, Status { code: StatusCode::Ok, message: "fine".into() });
        assert!(span.attributes.is_empty());
        let span = convert(jaeger_span(attrs(&[("otel.status_code", "UNSET".into())])));
        assert_eq!(span.status, Status::default());
        assert!(span.attributes.is_empty());
    }

    #[test]
    fn error_message_falls_back_to_http_status_message() {
        let span = convert(jaeger_span(attrs(&[
            ("error", true.into()),
            ("http.status_message", "Bad Gateway".into()),
        ])));
        assert_eq!(span.status, Status::error("Bad Gateway"));
        assert_eq!(span.attributes.get_str("http.status_message"), Some("Bad Gateway"));
    }

    #[test]
    fn http_status_code_decides_when_nothing_else_does() {
        let cases = [
            ("server", AnyValue::Int(404), StatusCode::Unset),
            ("client", AnyValue::Int(404), StatusCode::Error),
            ("internal", AnyValue::Int(404), StatusCode::Error),
            ("server", AnyValue::from("503"), StatusCode::Error),
            ("server", AnyValue::Int(200), StatusCode::Unset),
            ("server", AnyValue::Int(399), StatusCode::Error),
            ("server", AnyValue::from("abc"), StatusCode::Unset),
        ];
        for (kind, code, expected) in cases {
            let span = convert(jaeger_span(attrs(&[
                ("span.kind", kind.into()),
                ("http.status_code", code.clone()),
            ])));
            assert_eq!(span.status.code, expected, "{kind} {code:?}");
            assert_eq!(span.attributes.get("http.status_code"), Some(&code));
        }
        // otel.status_code, even UNSET, prevents the fallback.
        let span = convert(jaeger_span(attrs(&[
            ("http.status_code", 500i64.into()),
            ("otel.status_code", "UNSET".into()),
        ])));
        assert_eq!(span.status.code, StatusCode::Unset);
    }

    #[test]
    fn scope_tags_become_the_scope() {
        let mut scopes = ScopeCache::default();
        let tags = attrs(&[
            ("otel.library.name", "lib".into()),
            ("otel.library.version", "1.0".into()),
            ("x", 1i64.into()),
        ]);
        let a = span_to_model(jaeger_span(tags.clone()), Arc::default(), &mut scopes).unwrap();
        let b = span_to_model(jaeger_span(tags), Arc::default(), &mut scopes).unwrap();
        assert_eq!((a.scope.name.as_str(), a.scope.version.as_str()), ("lib", "1.0"));
        assert!(Arc::ptr_eq(&a.scope, &b.scope));
        assert_eq!(a.attributes, attrs(&[("x", 1i64.into())]));

        let span = convert(jaeger_span(attrs(&[
            ("otel.scope.name", "new".into()),
            ("otel.library.name", "old".into()),
        ])));
        assert_eq!(span.scope.name, "new");
        assert_eq!(span.attributes.get_str("otel.library.name"), Some("old"));

        let span = convert(jaeger_span(attrs(&[
            ("otel.scope.name", "lib".into()),
            ("otel.scope.version", "1".into()),
            ("otel.library.name", "lib".into()),
            ("otel.library.version", "1".into()),
        ])));
        assert_eq!((span.scope.name.as_str(), span.scope.version.as_str()), ("lib", "1"));
        assert!(span.attributes.is_empty());

        let span = convert(jaeger_span(attrs(&[("otel.scope.version", "2".into())])));
        assert_eq!(span.scope.name, "");
        assert_eq!(span.attributes.get_str("otel.scope.version"), Some("2"));
    }

    #[test]
    fn tracestate_flags_and_sampling_priority() {
        let mut jaeger = jaeger_span(attrs(&[
            ("w3c.tracestate", "a=1".into()),
            ("sampling.priority", 1i64.into()),
        ]));
        jaeger.flags = FLAG_SAMPLED | FLAG_DEBUG | 4;
        let span = convert(jaeger);
        assert_eq!(span.trace_state, "a=1");
        assert_eq!(span.flags, 1);
        assert_eq!(
            span.attributes,
            attrs(&[("sampling.priority", 1i64.into()), ("jaeger.debug", true.into())])
        );
    }

    #[test]
    fn references_give_parent_and_links() {
        let trace_id = TraceId::new(7).unwrap();
        let other_trace = TraceId::new(9).unwrap();
        let id = |n| SpanId::new(n).unwrap();
        let reference =
            |ref_type, trace_id, span| Reference { ref_type, trace_id, span_id: id(span) };
        let mut jaeger = jaeger_span(Attributes::new());
        jaeger.references = vec![
            reference(RefType::FollowsFrom, trace_id, 1),
            reference(RefType::ChildOf, other_trace, 2),
            reference(RefType::ChildOf, trace_id, 3),
            reference(RefType::ChildOf, trace_id, 4),
        ];
        let span = convert(jaeger.clone());
        assert_eq!(span.parent_span_id, Some(id(3)));
        let linked: Vec<(u64, Option<&str>)> = span
            .links
            .iter()
            .map(|l| (l.span_id.get(), l.attributes.get_str("opentracing.ref_type")))
            .collect();
        assert_eq!(
            linked,
            [(1, Some("follows_from")), (2, Some("child_of")), (4, Some("child_of"))]
        );

        // parentSpanId wins over references.
        jaeger.parent_span_id = Some(id(4));
        let span = convert(jaeger.clone());
        assert_eq!(span.parent_span_id, Some(id(4)));
        assert_eq!(span.links.len(), 3);

        // A FOLLOWS_FROM reference alone does not make a parent.
        jaeger.parent_span_id = None;
        jaeger.references.retain(|r| r.ref_type == RefType::FollowsFrom);
        assert_eq!(convert(jaeger).parent_span_id, None);
    }

    #[test]
    fn logs_become_events_and_error_logs_exceptions() {
        let mut jaeger = jaeger_span(Attributes::new());
        jaeger.logs = vec![
            Log {
                time_unix_nano: 5_000,
                fields: attrs(&[("event", "cache.miss".into()), ("key", "k".into())]),
            },
            Log {
                time_unix_nano: 6_000,
                fields: attrs(&[
                    ("event", "error".into()),
                    ("error.kind", "IOError".into()),
                    ("message", "disk full".into()),
                    ("stack", "at x".into()),
                    ("error.object", "IOError(disk full)".into()),
                ]),
            },
            Log { time_unix_nano: 7_000, fields: attrs(&[("event", 3i64.into())]) },
            Log {
                time_unix_nano: 8_000,
                fields: attrs(&[("message", "price.computed".into()), ("n", 1i64.into())]),
            },
            Log {
                time_unix_nano: 9_000,
                fields: attrs(&[("event", "retry".into()), ("message", "again".into())]),
            },
        ];
        let span = convert(jaeger);
        assert_eq!(span.events[0].name, "cache.miss");
        assert_eq!(span.events[0].attributes, attrs(&[("key", "k".into())]));
        assert_eq!(span.events[1].name, "exception");
        assert_eq!(
            span.events[1].attributes,
            attrs(&[
                ("exception.type", "IOError".into()),
                ("exception.message", "disk full".into()),
                ("exception.stacktrace", "at x".into()),
                ("error.object", "IOError(disk full)".into()),
            ])
        );
        assert_eq!(span.events[2].name, "");
        assert_eq!(span.events[2].attributes.get("event"), Some(&AnyValue::Int(3)));
        assert_eq!(span.events[3].name, "price.computed");
        assert_eq!(span.events[3].attributes, attrs(&[("n", 1i64.into())]));
        assert_eq!(span.events[4].name, "retry");
        assert_eq!(span.events[4].attributes, attrs(&[("message", "again".into())]));
    }
}
