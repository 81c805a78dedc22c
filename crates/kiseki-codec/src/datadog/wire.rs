//! Datadog's span, trace chunk and tracer payload, as the trace agent defines them.
//!
//! Every endpoint is read into these types first and every encoder writes from them, so the
//! mapping to and from the span model exists once. Maps keep their wire order as vectors; when a
//! key repeats, the later entry is the one that counts (as in the agent's Go maps).

use kiseki_model::{AnyValue, Str};

/// One Datadog span (`pb.Span` in the agent).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DdSpan {
    pub service: Str,
    /// The operation name (`web.request`, `postgres.query`).
    pub name: Str,
    /// What the operation acted on (`GET /users/{id}`, a SQL statement).
    pub resource: Str,
    /// The low 64 bits of the trace id; the high bits travel in meta `_dd.p.tid`.
    pub trace_id: u64,
    pub span_id: u64,
    /// Zero for a root span.
    pub parent_id: u64,
    /// Nanoseconds since the Unix epoch.
    pub start: i64,
    /// Nanoseconds.
    pub duration: i64,
    /// Non-zero when the span failed.
    pub error: i32,
    pub meta: Vec<(Str, Str)>,
    pub metrics: Vec<(Str, f64)>,
    /// `web`, `http`, `sql`, `cache`, `custom`, ...; may be empty.
    pub span_type: Str,
    pub span_links: Vec<DdSpanLink>,
    pub span_events: Vec<DdSpanEvent>,
}

impl DdSpan {
    /// The value of a meta key; the last one when the key repeats.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.meta.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The value of a metric; the last one when the key repeats.
    pub fn metric(&self, key: &str) -> Option<f64> {
        self.metrics.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }
}

/// A link to another span (`pb.SpanLink`), sent natively in v0.4 and v0.7 payloads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DdSpanLink {
    pub trace_id: u64,
    pub trace_id_high: u64,
    pub span_id: u64,
    pub attributes: Vec<(Str, Str)>,
    pub tracestate: Str,
    /// W3C trace flags with bit 31 set to mark them as present; zero when absent.
    pub flags: u32,
}

/// An event on a span, sent natively (`span_events`) by tracers when the agent supports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DdSpanEvent {
    pub time_unix_nano: u64,
    pub name: Str,
    pub attributes: Vec<(Str, AnyValue)>,
}

/// The spans of one trace that a tracer sent together (`pb.TraceChunk`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DdChunk {
    /// The chunk's sampling priority; v0.7 only.
    pub priority: Option<i32>,
    /// The product the trace came from (`rum`, `synthetics`, `lambda`); v0.7 only.
    pub origin: Str,
    /// Tags common to every span of the chunk; v0.7 only.
    pub tags: Vec<(Str, Str)>,
    /// The tracer's samplers dropped this trace; its spans are sent for statistics only.
    pub dropped_trace: bool,
    pub spans: Vec<DdSpan>,
}

/// Everything one request carried (`pb.TracerPayload`). For v0.3 to v0.5 the payload-level
/// fields come from HTTP headers, see [`TracerHeaders`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DdPayload {
    pub container_id: Str,
    pub language_name: Str,
    pub language_version: Str,
    pub tracer_version: Str,
    /// A UUID for the tracer's process.
    pub runtime_id: Str,
    pub tags: Vec<(Str, Str)>,
    pub env: Str,
    pub hostname: Str,
    pub app_version: Str,
    pub chunks: Vec<DdChunk>,
}

/// What the headers of a trace request say about the tracer, for endpoints whose body does not
/// (`Datadog-Meta-Lang`, `Datadog-Meta-Lang-Version`, `Datadog-Meta-Tracer-Version`,
/// `Datadog-Container-ID`). Values in a v0.7 body take precedence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracerHeaders {
    pub language: Str,
    pub language_version: Str,
    pub tracer_version: Str,
    pub container_id: Str,
}

impl TracerHeaders {
    /// Fills the payload-level fields the body left empty.
    pub(crate) fn fill(&self, payload: &mut DdPayload) {
        let pairs = [
            (&mut payload.language_name, &self.language),
            (&mut payload.language_version, &self.language_version),
            (&mut payload.tracer_version, &self.tracer_version),
            (&mut payload.container_id, &self.container_id),
        ];
        for (field, header) in pairs {
            if field.is_empty() {
                *field = header.clone();
            }
        }
    }
}
