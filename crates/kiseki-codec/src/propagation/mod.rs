//! Trace-context propagation headers: reading and writing the context one service hands to the
//! next, so kiseki's load generator and agent can continue traces across services and tests can
//! build traces that cross formats.
//!
//! Four formats, each a module with `extract(headers) -> Result<Option<SpanContext>, _>` (`None`
//! when the format is absent, an error when it is present but malformed) and
//! `inject(&SpanContext, &mut sink)`:
//!
//! | [`Format`] | module | headers |
//! |---|---|---|
//! | `TraceContext` | [`tracecontext`] | `traceparent`, `tracestate` |
//! | `B3Single` | [`b3::single`] | `b3` |
//! | `B3Multi` | [`b3::multi`] | `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled`, `X-B3-Flags` |
//! | `Datadog` | [`datadog`] | `x-datadog-trace-id`, `-parent-id`, `-sampling-priority`, `-origin`, `-tags` |
//!
//! Headers are read through [`HeaderSource`] and written through [`HeaderSink`], so the same
//! code serves `http::HeaderMap` (through a small adapter in the server), vectors of pairs and
//! maps. Nothing here does I/O; every function is safe on any input.
//!
//! B3 can send a sampling decision without ids (`b3: 0`): that is no context, so extractors
//! return `None`, and [`b3::extract_sampling_only`] returns the [`SamplingDecision`]; the
//! receiver starts a new trace and applies it (`b3::single::inject_sampling_only` and
//! `b3::multi::inject_sampling_only` forward it).
//!
//! Tested against what ddtrace (Python), dd-trace (Node.js), OpenTelemetry Python and JS,
//! py_zipkin and zipkin-js write and read (testdata/propagation/, interop/propagation.sh).

pub mod b3;
mod context;
pub mod datadog;
mod error;
mod headers;
mod text;
pub mod tracecontext;
pub mod tracestate;

#[cfg(test)]
mod tests;

pub use context::{DatadogContext, SamplingDecision, SpanContext};
pub use error::PropagationError;
pub use headers::{HeaderSink, HeaderSource};

/// Every header name any of the formats reads, lowercase: what a proxy must pass on for a trace
/// to continue.
pub const HEADER_NAMES: [&str; 13] = [
    "traceparent",
    "tracestate",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-origin",
    "x-datadog-tags",
];

/// A propagation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// W3C Trace Context (`traceparent`, `tracestate`).
    TraceContext,
    /// B3 in the one `b3` header.
    B3Single,
    /// B3 in `X-B3-*` headers.
    B3Multi,
    /// Datadog's `x-datadog-*` headers.
    Datadog,
}

impl Format {
    /// Every format, in the order [`extract_any`] tries them.
    pub const ALL: [Format; 4] = [Self::TraceContext, Self::B3Single, Self::B3Multi, Self::Datadog];

    /// The name OpenTelemetry's `OTEL_PROPAGATORS` and Datadog's `DD_TRACE_PROPAGATION_STYLE`
    /// use: `tracecontext`, `b3` (single header), `b3multi`, `datadog`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TraceContext => "tracecontext",
            Self::B3Single => "b3",
            Self::B3Multi => "b3multi",
            Self::Datadog => "datadog",
        }
    }

    /// Reads a [`name`](Self::name), ignoring ASCII case; also Datadog's older spelling
    /// `b3 single header`.
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|format| format.name().eq_ignore_ascii_case(name))
            .or_else(|| name.eq_ignore_ascii_case("b3 single header").then_some(Self::B3Single))
    }

    /// The context in this format's headers; see the format's module.
    pub fn extract(
        self,
        headers: &(impl HeaderSource + ?Sized),
    ) -> Result<Option<SpanContext>, PropagationError> {
        match self {
            Self::TraceContext => tracecontext::extract(headers),
            Self::B3Single => b3::single::extract(headers),
            Self::B3Multi => b3::multi::extract(headers),
            Self::Datadog => datadog::extract(headers),
        }
    }

    /// Writes the context in this format's headers; other headers in `sink` are left alone.
    pub fn inject(self, context: &SpanContext, sink: &mut (impl HeaderSink + ?Sized)) {
        match self {
            Self::TraceContext => tracecontext::inject(context, sink),
            Self::B3Single => b3::single::inject(context, sink),
            Self::B3Multi => b3::multi::inject(context, sink),
            Self::Datadog => datadog::inject(context, sink),
        }
    }
}

/// The context of the first format present and valid, trying W3C Trace Context, B3 single,
/// B3 multi, then Datadog.
///
/// Why this order: W3C is the standard every current tracer speaks and always carries the whole
/// 128-bit trace id and an explicit sampled flag; B3 puts its single header before its multiple
/// ones; Datadog's decimal 64-bit ids come last. The order also matters when formats disagree:
/// a proxy that knows only W3C updates `traceparent` and forwards the older `x-datadog-*`
/// headers untouched, so the W3C context is the more recent hop.
///
/// When W3C wins and the Datadog headers describe the same trace, what W3C lacks is taken from
/// them, as dd-trace does: the priority (when it agrees with the sampled flag), the origin, the
/// tags missing from `tracestate`, and — when their span id differs and `tracestate` has no
/// `p` — the Datadog span as [`DatadogContext::last_parent_id`].
///
/// A format that is present but malformed is skipped; its error is returned only when no
/// format gives a context. A B3 sampling decision sent without ids is not a context (see
/// [`b3::extract_sampling_only`]), and a `b3` header holding one hides the `X-B3-*` headers, as
/// the B3 specification gives the single header precedence; a malformed `b3` does not.
pub fn extract_any(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SpanContext>, PropagationError> {
    let mut first_error = None;
    let mut b3_single_decided = false;
    for format in Format::ALL {
        if format == Format::B3Multi && b3_single_decided {
            continue;
        }
        match format.extract(headers) {
            Ok(Some(mut context)) => {
                if format == Format::TraceContext
                    && let Ok(Some(datadog)) = datadog::extract(headers)
                {
                    merge_datadog(&mut context, datadog);
                }
                return Ok(Some(context));
            }
            Ok(None) => {
                // A valid `b3` with only a sampling state still wins over `X-B3-*`, as in Brave.
                b3_single_decided |=
                    format == Format::B3Single && headers.header(b3::single::B3).is_some();
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(None), Err)
}

/// Writes the context in each of `formats`, in that order.
pub fn inject_all(
    context: &SpanContext,
    formats: &[Format],
    sink: &mut (impl HeaderSink + ?Sized),
) {
    for format in formats {
        format.inject(context, sink);
    }
}

/// Fills the Datadog information a W3C context lacks from Datadog headers of the same trace.
fn merge_datadog(w3c: &mut SpanContext, from_headers: SpanContext) {
    if from_headers.trace_id.low() != w3c.trace_id.low()
        || (from_headers.trace_id.high() != 0 && from_headers.trace_id != w3c.trace_id)
    {
        return;
    }
    let target = &mut w3c.datadog;
    let source = from_headers.datadog;
    if target.sampling_priority.is_none()
        && let Some(priority) = source.sampling_priority
        && (priority > 0) == (w3c.sampled == Some(true))
    {
        target.sampling_priority = Some(priority);
    }
    if target.origin.is_none() {
        target.origin = source.origin;
    }
    for (key, value) in source.tags {
        if target.tag(&key).is_none() {
            target.tags.push((key, value));
        }
    }
    if target.last_parent_id.is_none() && from_headers.span_id != w3c.span_id {
        target.last_parent_id = Some(from_headers.span_id);
    }
}
