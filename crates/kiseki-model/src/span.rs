//! The span and the parts it is made of: kind, status, events, links, resource and scope.

use std::sync::Arc;

use crate::ids::{SpanId, TraceId};
use crate::semconv;
use crate::value::{Attributes, Str};

/// What role a span plays in a request, with OpenTelemetry's numbering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum SpanKind {
    #[default]
    Unspecified = 0,
    Internal = 1,
    Server = 2,
    Client = 3,
    Producer = 4,
    Consumer = 5,
}

impl SpanKind {
    pub const ALL: [SpanKind; 6] = [
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ];

    /// From OpenTelemetry's enum number; `None` for numbers it does not define.
    pub fn from_number(number: i64) -> Option<Self> {
        Self::ALL.get(usize::try_from(number).ok()?).copied()
    }

    /// Lower-case name as OpenTracing's `span.kind` tag and Datadog's `span.kind` meta spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanKind::Unspecified => "unspecified",
            SpanKind::Internal => "internal",
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            SpanKind::Producer => "producer",
            SpanKind::Consumer => "consumer",
        }
    }

    /// Parses the lower-case names of [`SpanKind::as_str`] (any case); unknown names give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str().eq_ignore_ascii_case(name))
    }
}

/// Whether an operation succeeded, with OpenTelemetry's numbering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StatusCode {
    #[default]
    Unset = 0,
    Ok = 1,
    Error = 2,
}

impl StatusCode {
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            0 => Some(StatusCode::Unset),
            1 => Some(StatusCode::Ok),
            2 => Some(StatusCode::Error),
            _ => None,
        }
    }

    /// `UNSET`, `OK` or `ERROR`, as `otel.status_code` spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusCode::Unset => "UNSET",
            StatusCode::Ok => "OK",
            StatusCode::Error => "ERROR",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Status {
    pub code: StatusCode,
    pub message: Str,
}

impl Status {
    pub fn error(message: impl Into<Str>) -> Self {
        Self { code: StatusCode::Error, message: message.into() }
    }
}

/// Something that happened at one moment during a span (an annotation, a log, an exception).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub time_unix_nano: u64,
    pub name: Str,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
}

/// A reference to another span that is not this span's parent.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub trace_state: Str,
    pub flags: u32,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
}

/// The entity that produced spans: a service instance, with `service.name` and the rest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resource {
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
}

impl Resource {
    /// A resource holding only `service.name`.
    pub fn for_service(name: impl Into<Str>) -> Self {
        let mut attributes = Attributes::with_capacity(1);
        attributes.push(semconv::SERVICE_NAME, name.into());
        Self { attributes, dropped_attributes_count: 0 }
    }

    /// `service.name`, or OpenTelemetry's `unknown_service` when the tracer sent none.
    pub fn service_name(&self) -> &str {
        self.attributes.get_str(semconv::SERVICE_NAME).unwrap_or(semconv::UNKNOWN_SERVICE)
    }
}

/// The instrumentation library that created a span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scope {
    pub name: Str,
    pub version: Str,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
}

/// One span. Resource and scope are shared by all spans that a tracer sent together.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_span_id: Option<SpanId>,
    /// W3C `tracestate`, as sent.
    pub trace_state: Str,
    /// W3C trace flags in the low 8 bits (bit 0 = sampled); OTLP's is-remote bits 8 and 9.
    pub flags: u32,
    pub name: Str,
    pub kind: SpanKind,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub attributes: Attributes,
    pub dropped_attributes_count: u32,
    pub events: Vec<Event>,
    pub dropped_events_count: u32,
    pub links: Vec<Link>,
    pub dropped_links_count: u32,
    pub status: Status,
    pub resource: Arc<Resource>,
    pub scope: Arc<Scope>,
}

impl Span {
    /// A span with the given identity and everything else empty; decoders fill in the rest.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        Self {
            trace_id,
            span_id,
            parent_span_id: None,
            trace_state: Str::default(),
            flags: 0,
            name: Str::default(),
            kind: SpanKind::Unspecified,
            start_time_unix_nano: 0,
            end_time_unix_nano: 0,
            attributes: Attributes::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Status::default(),
            resource: Arc::default(),
            scope: Arc::default(),
        }
    }

    pub fn service_name(&self) -> &str {
        self.resource.service_name()
    }

    /// End minus start, zero when a tracer sent an end before the start.
    pub fn duration_nanos(&self) -> u64 {
        self.end_time_unix_nano.saturating_sub(self.start_time_unix_nano)
    }

    pub fn is_error(&self) -> bool {
        self.status.code == StatusCode::Error
    }

    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_numbers_and_names_round_trip() {
        for kind in SpanKind::ALL {
            assert_eq!(SpanKind::from_number(kind as i64), Some(kind));
            assert_eq!(SpanKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(SpanKind::from_number(6), None);
        assert_eq!(SpanKind::from_number(-1), None);
        assert_eq!(SpanKind::from_name("SERVER"), Some(SpanKind::Server));
    }

    #[test]
    fn service_name_falls_back_to_unknown_service() {
        assert_eq!(Resource::default().service_name(), "unknown_service");
        assert_eq!(Resource::for_service("cart").service_name(), "cart");
    }
}
