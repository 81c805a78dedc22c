//! The one span model that every wire format is converted into at the edge.
//!
//! Semantics follow OpenTelemetry: 128-bit trace ids, 64-bit span ids, span kind, status, typed
//! attributes, events, links, resource and instrumentation scope. Nothing past a receiver knows
//! which format a span arrived in; facts that only one format has and that users search by are kept
//! as attributes with the stable names listed in [`semconv`].

pub mod ids;
pub mod semconv;
pub mod span;
pub mod value;

pub use ids::{IdError, SpanId, TraceId};
pub use span::{Event, Link, Resource, Scope, Span, SpanKind, Status, StatusCode};
pub use value::{AnyValue, Attributes, KeyValue, Str};
