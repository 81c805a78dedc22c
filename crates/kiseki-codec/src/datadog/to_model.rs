//! Datadog spans to the span model, following Datadog's own OpenTelemetry mapping.
//!
//! - `service` and meta `env`, `version`, `_dd.hostname` make the resource (`service.name`,
//!   `deployment.environment.name`, `service.version`, `host.name`), with the tracer's language
//!   and version (`telemetry.sdk.*`); one shared resource per distinct combination.
//! - `name` is the span name, `resource` and `type` are kept as `resource.name` and `span.type`.
//! - The high half of a 128-bit trace id travels in meta `_dd.p.tid` on one span of a chunk
//!   (usually the first); it applies to every span of the chunk with the same low half.
//!   `_dd.hostname` is a chunk-level tag too.
//! - Meta becomes string attributes, metrics double attributes; `_sampling_priority_v1` becomes
//!   an integer `sampling.priority`.
//! - Meta `span.kind` gives the kind, else type `web` is a server and `http` a client.
//! - `error` gives the status; meta `error.message` (or `error.msg`), `error.type` and
//!   `error.stack` become an `exception` event at the span's end.
//! - Events and links arrive natively or as JSON in meta `events` and `_dd.span_links`.
//! - v0.7 payloads: the payload's `env`, `hostname` and `app_version` apply to spans without
//!   their own, its language, runtime and container to the resource, its tags too; a chunk's
//!   priority goes to its root spans (those whose parent is not in the chunk) that have none,
//!   its origin to `_dd.origin` and its tags to every span. `dropped_trace` is not kept: the
//!   spans of a dropped trace still count for statistics, and sampling decides anew.

use std::collections::HashMap;
use std::sync::Arc;

use kiseki_model::{
    AnyValue, Attributes, Event, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind, Status,
    StatusCode, Str, TraceId, semconv,
};

use crate::limits::{self, LimitError, MAX_EVENTS, MAX_LINKS};

use super::error::{DecodeError, Location, Problem};
use super::meta_json::{self, EVENTS_KEY, LINK_FLAGS_SET, SPAN_LINKS_KEY};
use super::naming::kind_from_span_type;
use super::wire::{DdChunk, DdPayload, DdSpan, DdSpanEvent, DdSpanLink};

// Meta and metric keys with a meaning of their own.
pub(crate) const TRACE_ID_HIGH: &str = "_dd.p.tid";
pub(crate) const HOSTNAME: &str = "_dd.hostname";
pub(crate) const ENV: &str = "env";
pub(crate) const VERSION: &str = "version";
pub(crate) const ORIGIN: &str = "_dd.origin";
pub(crate) const SAMPLING_PRIORITY: &str = "_sampling_priority_v1";
pub(crate) const ERROR_MESSAGE: &str = "error.message";
pub(crate) const ERROR_MSG: &str = "error.msg";
pub(crate) const ERROR_TYPE: &str = "error.type";
pub(crate) const ERROR_STACK: &str = "error.stack";
pub(crate) const TRACESTATE: &str = "w3c.tracestate";
pub(crate) const STATUS_OK_VALUE: &str = "OK";
/// `telemetry.sdk.name` of spans from Datadog tracers.
pub const DATADOG_SDK_NAME: &str = "datadog";

/// Maps a whole payload. Fails on the first span with a zero trace or span id.
pub fn payload_to_model(mut payload: DdPayload) -> Result<Vec<Span>, DecodeError> {
    let chunks = std::mem::take(&mut payload.chunks);
    let mut context = PayloadContext::new(payload, &chunks)?;
    let mut spans = Vec::with_capacity(chunks.iter().map(|chunk| chunk.spans.len()).sum());
    for (trace, chunk) in chunks.into_iter().enumerate() {
        let chunk_context = context.chunk_context(&chunk);
        for (index, span) in chunk.spans.into_iter().enumerate() {
            spans.push(context.map_span(span, &chunk_context, Location::span(trace, index))?);
        }
    }
    Ok(spans)
}

/// Maps one span on its own, as if it were the only span of its payload.
pub fn span_to_model(span: DdSpan) -> Result<Span, DecodeError> {
    let chunk = DdChunk { spans: vec![span], ..DdChunk::default() };
    let mut context = PayloadContext::new(DdPayload::default(), std::slice::from_ref(&chunk))?;
    let chunk_context = context.chunk_context(&chunk);
    let mut spans = chunk.spans.into_iter();
    match spans.next() {
        Some(span) => context.map_span(span, &chunk_context, Location::span(0, 0)),
        None => Err(Location::span(0, 0).error(Problem::ZeroSpanId)),
    }
}

/// Values that apply to spans lacking their own.
struct Defaults {
    env: Str,
    version: Str,
    hostname: Str,
}

struct PayloadContext {
    defaults: Defaults,
    /// Resource attributes from the payload (tracer, container, tags).
    shared: Attributes,
    payload_trace_id_high: HashMap<u64, u64>,
    resources: HashMap<ResourceKey, Arc<Resource>>,
    scopes: HashMap<(Str, Str), Arc<Scope>>,
    default_scope: Arc<Scope>,
}

#[derive(Hash, PartialEq, Eq)]
struct ResourceKey {
    service: Str,
    env: Str,
    version: Str,
    hostname: Str,
}

/// What the chunk says about all its spans.
struct ChunkContext {
    trace_id_high: HashMap<u64, u64>,
    hostname: Str,
    priority: Option<i32>,
    origin: Str,
    tags: Vec<(Str, Str)>,
    /// The chunk's span ids, to find its roots; only when it has a priority to give them.
    span_ids: std::collections::HashSet<u64>,
}

impl PayloadContext {
    /// The resource attributes and defaults the payload gives every span.
    fn new(payload: DdPayload, chunks: &[DdChunk]) -> Result<Self, DecodeError> {
        let DdPayload {
            container_id,
            language_name,
            language_version,
            tracer_version,
            runtime_id,
            tags,
            env,
            hostname,
            app_version,
            chunks: _,
        } = payload;

        let mut shared = Attributes::new();
        let language =
            if language_name == ".NET" { Str::from_static("dotnet") } else { language_name };
        if !language.is_empty() || !tracer_version.is_empty() {
            shared.push(semconv::TELEMETRY_SDK_NAME, DATADOG_SDK_NAME);
        }
        for (key, value) in [
            (semconv::TELEMETRY_SDK_LANGUAGE, language),
            (semconv::TELEMETRY_SDK_VERSION, tracer_version),
            (semconv::PROCESS_RUNTIME_VERSION, language_version),
            (semconv::CONTAINER_ID, container_id),
            (semconv::SERVICE_INSTANCE_ID, runtime_id),
        ] {
            if !value.is_empty() {
                shared.push(key, value);
            }
        }
        for (key, value) in tags {
            if shared.get(&key).is_none() {
                shared.push(key, value);
            }
        }
        limits::check_attributes(&shared)?;

        Ok(Self {
            defaults: Defaults { env, version: app_version, hostname },
            shared,
            payload_trace_id_high: trace_id_highs(chunks.iter().flat_map(|chunk| &chunk.spans)),
            resources: HashMap::new(),
            scopes: HashMap::new(),
            default_scope: Arc::new(Scope::default()),
        })
    }

    fn chunk_context(&self, chunk: &DdChunk) -> ChunkContext {
        let hostname = chunk
            .spans
            .iter()
            .find_map(|span| span.meta(HOSTNAME).filter(|host| !host.is_empty()))
            .map(Str::new)
            .unwrap_or_else(|| self.defaults.hostname.clone());
        ChunkContext {
            trace_id_high: trace_id_highs(&chunk.spans),
            hostname,
            priority: chunk.priority,
            origin: chunk.origin.clone(),
            tags: chunk.tags.clone(),
            span_ids: match chunk.priority {
                Some(_) => chunk.spans.iter().map(|span| span.span_id).collect(),
                None => std::collections::HashSet::new(),
            },
        }
    }

    fn map_span(
        &mut self,
        dd: DdSpan,
        chunk: &ChunkContext,
        at: Location,
    ) -> Result<Span, DecodeError> {
        if dd.trace_id == 0 {
            return Err(at.field("trace_id").error(Problem::ZeroTraceId));
        }
        let high = chunk
            .trace_id_high
            .get(&dd.trace_id)
            .or_else(|| self.payload_trace_id_high.get(&dd.trace_id))
            .copied()
            .unwrap_or(0);
        let trace_id = TraceId::from_halves(high, dd.trace_id)
            .ok_or(at.field("trace_id").error(Problem::ZeroTraceId))?;
        let span_id =
            SpanId::new(dd.span_id).ok_or(at.field("span_id").error(Problem::ZeroSpanId))?;

        let mut span = Span::new(trace_id, span_id);
        span.parent_span_id = SpanId::new(dd.parent_id);
        span.start_time_unix_nano = u64::try_from(dd.start).unwrap_or(0);
        span.end_time_unix_nano =
            span.start_time_unix_nano.saturating_add(u64::try_from(dd.duration).unwrap_or(0));
        span.name = dd.name.clone();
        let failed = dd.error != 0;
        let is_chunk_root = dd.parent_id == 0 || !chunk.span_ids.contains(&dd.parent_id);

        let mut facts = SpanFacts::default();
        let mut attributes = Attributes::with_capacity(dd.meta.len() + dd.metrics.len() + 2);
        let resource_name =
            if dd.resource.is_empty() { dd.name.clone() } else { dd.resource.clone() };
        if !resource_name.is_empty() {
            attributes.push(semconv::DATADOG_RESOURCE, resource_name);
        }
        if !dd.span_type.is_empty() {
            attributes.push(semconv::DATADOG_SPAN_TYPE, dd.span_type.clone());
        }

        let mut seen: HashMap<Str, usize> =
            attributes.iter().enumerate().map(|(i, kv)| (kv.key.clone(), i)).collect();
        for (key, value) in dedup_last(dd.meta) {
            if let Some(value) = facts.take_meta(&key, value, failed) {
                insert_new(&mut attributes, &mut seen, key, AnyValue::Str(value));
            }
        }
        for (key, value) in dedup_last(dd.metrics) {
            if key == SAMPLING_PRIORITY && value.fract() == 0.0 && value.abs() < 9.0e15 {
                insert_new(
                    &mut attributes,
                    &mut seen,
                    Str::from_static(semconv::SAMPLING_PRIORITY),
                    AnyValue::Int(value as i64),
                );
            } else {
                insert_new(&mut attributes, &mut seen, key, AnyValue::Double(value));
            }
        }
        if let Some(priority) = chunk.priority.filter(|_| is_chunk_root) {
            insert_new(
                &mut attributes,
                &mut seen,
                Str::from_static(semconv::SAMPLING_PRIORITY),
                AnyValue::Int(i64::from(priority)),
            );
        }
        if !chunk.origin.is_empty() {
            insert_new(
                &mut attributes,
                &mut seen,
                Str::from_static(ORIGIN),
                AnyValue::Str(chunk.origin.clone()),
            );
        }
        for (key, value) in &chunk.tags {
            insert_new(&mut attributes, &mut seen, key.clone(), AnyValue::Str(value.clone()));
        }
        limits::check_attributes(&attributes)?;
        span.attributes = attributes;

        span.kind = facts.kind.unwrap_or_else(|| kind_from_span_type(&dd.span_type));
        span.trace_state = facts.trace_state.take().unwrap_or_default();

        let mut events = facts.events.take().unwrap_or_default();
        events.extend(dd.span_events.into_iter().map(event_to_model));
        if let Some(exception) = facts.exception_event(span.end_time_unix_nano)
            && !events.iter().any(|event| same_exception(event, &exception))
        {
            events.push(exception);
        }
        if events.len() > MAX_EVENTS {
            return Err(LimitError::TooManyEvents { count: events.len() }.into());
        }
        span.events = events;

        let mut links: Vec<Link> = dd.span_links.into_iter().filter_map(link_to_model).collect();
        links.extend(facts.links.take().unwrap_or_default());
        if links.len() > MAX_LINKS {
            return Err(LimitError::TooManyLinks { count: links.len() }.into());
        }
        span.links = links;

        span.status = if failed {
            Status::error(facts.error_description())
        } else if facts.status_ok {
            Status { code: StatusCode::Ok, message: Str::default() }
        } else {
            Status::default()
        };

        let hostname = facts.hostname.take().unwrap_or_else(|| chunk.hostname.clone());
        span.resource = self.resource(ResourceKey {
            service: dd.service,
            env: facts.env.take().unwrap_or_else(|| self.defaults.env.clone()),
            version: facts.version.take().unwrap_or_else(|| self.defaults.version.clone()),
            hostname,
        })?;
        span.scope = self.scope(facts.scope_name.take(), facts.scope_version.take());
        Ok(span)
    }

    fn resource(&mut self, key: ResourceKey) -> Result<Arc<Resource>, DecodeError> {
        if let Some(resource) = self.resources.get(&key) {
            return Ok(resource.clone());
        }
        let mut attributes = Attributes::with_capacity(4 + self.shared.len());
        for (name, value) in [
            (semconv::SERVICE_NAME, &key.service),
            (semconv::DEPLOYMENT_ENVIRONMENT_NAME, &key.env),
            (semconv::SERVICE_VERSION, &key.version),
            (semconv::HOST_NAME, &key.hostname),
        ] {
            if !value.is_empty() {
                attributes.push(name, value.clone());
            }
        }
        for kv in self.shared.iter() {
            if attributes.get(&kv.key).is_none() {
                attributes.push(kv.key.clone(), kv.value.clone());
            }
        }
        limits::check_attributes(&attributes)?;
        let resource = Arc::new(Resource { attributes, dropped_attributes_count: 0 });
        self.resources.insert(key, resource.clone());
        Ok(resource)
    }

    fn scope(&mut self, name: Option<Str>, version: Option<Str>) -> Arc<Scope> {
        if name.is_none() && version.is_none() {
            return self.default_scope.clone();
        }
        let key = (name.unwrap_or_default(), version.unwrap_or_default());
        self.scopes
            .entry(key)
            .or_insert_with_key(|(name, version)| {
                Arc::new(Scope { name: name.clone(), version: version.clone(), ..Scope::default() })
            })
            .clone()
    }
}

/// Meta entries that are not plain attributes, taken out while the span is mapped.
#[derive(Default)]
struct SpanFacts {
    env: Option<Str>,
    version: Option<Str>,
    hostname: Option<Str>,
    kind: Option<SpanKind>,
    trace_state: Option<Str>,
    scope_name: Option<Str>,
    scope_version: Option<Str>,
    status_ok: bool,
    status_description: Option<Str>,
    error_message: Option<Str>,
    error_msg: Option<Str>,
    error_type: Option<Str>,
    error_stack: Option<Str>,
    events: Option<Vec<Event>>,
    links: Option<Vec<Link>>,
}

impl SpanFacts {
    /// Takes a meta entry that carries a fact; gives back the value of a plain attribute.
    fn take_meta(&mut self, key: &str, value: Str, failed: bool) -> Option<Str> {
        let slot = match key {
            TRACE_ID_HIGH if parse_trace_id_high(&value).is_some() => return None,
            ENV => &mut self.env,
            VERSION => &mut self.version,
            HOSTNAME => &mut self.hostname,
            TRACESTATE => &mut self.trace_state,
            semconv::OTEL_SCOPE_NAME => &mut self.scope_name,
            semconv::OTEL_SCOPE_VERSION => &mut self.scope_version,
            ERROR_MESSAGE => &mut self.error_message,
            ERROR_MSG => &mut self.error_msg,
            ERROR_TYPE => &mut self.error_type,
            ERROR_STACK => &mut self.error_stack,
            semconv::OTEL_STATUS_DESCRIPTION if failed => &mut self.status_description,
            semconv::OTEL_STATUS_CODE if !failed && value.eq_ignore_ascii_case(STATUS_OK_VALUE) => {
                self.status_ok = true;
                return None;
            }
            semconv::SPAN_KIND => match SpanKind::from_name(&value) {
                Some(kind) => {
                    self.kind = Some(kind);
                    return None;
                }
                None => return Some(value),
            },
            EVENTS_KEY => match meta_json::parse_events(&value) {
                Some(events) => {
                    self.events = Some(events);
                    return None;
                }
                None => return Some(value),
            },
            SPAN_LINKS_KEY => match meta_json::parse_links(&value) {
                Some(links) => {
                    self.links = Some(links);
                    return None;
                }
                None => return Some(value),
            },
            _ => return Some(value),
        };
        *slot = Some(value);
        None
    }

    /// The `exception` event that the error meta describes, if it has any.
    fn exception_event(&self, time_unix_nano: u64) -> Option<Event> {
        let message = self.error_message.as_ref().or(self.error_msg.as_ref());
        let mut attributes = Attributes::with_capacity(3);
        for (key, value) in [
            (semconv::EXCEPTION_MESSAGE, message),
            (semconv::EXCEPTION_TYPE, self.error_type.as_ref()),
            (semconv::EXCEPTION_STACKTRACE, self.error_stack.as_ref()),
        ] {
            if let Some(value) = value {
                attributes.push(key, value.clone());
            }
        }
        if attributes.is_empty() {
            return None;
        }
        Some(Event {
            time_unix_nano,
            name: Str::from_static(semconv::EXCEPTION_EVENT),
            attributes,
            dropped_attributes_count: 0,
        })
    }

    fn error_description(&self) -> Str {
        self.status_description
            .as_ref()
            .or(self.error_message.as_ref())
            .or(self.error_msg.as_ref())
            .cloned()
            .unwrap_or_default()
    }
}

/// Whether an event already records the exception that the error meta describes.
fn same_exception(event: &Event, exception: &Event) -> bool {
    event.name == semconv::EXCEPTION_EVENT
        && exception.attributes.iter().all(|kv| event.attributes.get(&kv.key) == Some(&kv.value))
}

fn event_to_model(event: DdSpanEvent) -> Event {
    Event {
        time_unix_nano: event.time_unix_nano,
        name: event.name,
        attributes: event
            .attributes
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
        dropped_attributes_count: 0,
    }
}

/// A native link; links without usable ids are dropped, as they point nowhere.
fn link_to_model(link: DdSpanLink) -> Option<Link> {
    Some(Link {
        trace_id: TraceId::from_halves(link.trace_id_high, link.trace_id)?,
        span_id: SpanId::new(link.span_id)?,
        trace_state: link.tracestate,
        flags: link.flags & !LINK_FLAGS_SET,
        attributes: link
            .attributes
            .into_iter()
            .map(|(key, value)| KeyValue::new(key, value))
            .collect(),
        dropped_attributes_count: 0,
    })
}

/// The `_dd.p.tid` of every span that carries a valid one, by the low half of its trace id.
fn trace_id_highs<'a>(spans: impl IntoIterator<Item = &'a DdSpan>) -> HashMap<u64, u64> {
    let mut highs = HashMap::new();
    for span in spans {
        if let Some(high) = span.meta(TRACE_ID_HIGH).and_then(parse_trace_id_high) {
            highs.entry(span.trace_id).or_insert(high);
        }
    }
    highs
}

/// Exactly 16 hex digits, as tracers write it.
fn parse_trace_id_high(text: &str) -> Option<u64> {
    if text.len() != 16 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// Keeps the last value of each key, at the position of its first occurrence.
fn dedup_last<V>(entries: Vec<(Str, V)>) -> Vec<(Str, V)> {
    let mut positions: HashMap<Str, usize> = HashMap::with_capacity(entries.len());
    let mut out: Vec<(Str, V)> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match positions.get(&key) {
            Some(&index) => {
                if let Some(slot) = out.get_mut(index) {
                    slot.1 = value;
                }
            }
            None => {
                positions.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    out
}

/// Appends an attribute unless its key is already there (meta wins over metrics).
fn insert_new(
    attributes: &mut Attributes,
    seen: &mut HashMap<Str, usize>,
    key: Str,
    value: AnyValue,
) {
    if seen.contains_key(&key) {
        return;
    }
    seen.insert(key.clone(), attributes.len());
    attributes.push(key, value);
}
