//! The trace context one service hands to the next, in a form shared by every header format.

use kiseki_model::{SpanId, Str, TraceId};

/// What a request carries about the trace it belongs to.
///
/// One type for every format; each format fills what it carries and leaves the rest at its
/// default, and each injector writes what its format can hold:
///
/// | field | B3 | W3C trace context | Datadog headers |
/// |---|---|---|---|
/// | `trace_id` | 64 or 128 bits | 128 bits | low 64 bits, high 64 in `_dd.p.tid` |
/// | `span_id` | yes | yes (`parent-id`) | yes (`x-datadog-parent-id`) |
/// | `parent_span_id` | yes | – | – |
/// | `sampled` | yes, or absent (defer) | always | from the priority |
/// | `debug` | yes | – | – |
/// | `random_trace_id` | – | yes (level 2 flag) | – |
/// | `trace_state` | – | yes | – |
/// | `datadog` | – | its `dd=` member | yes |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanContext {
    pub trace_id: TraceId,
    /// The span of the caller: the parent of the span the receiver starts (in B3 the receiver
    /// may instead share it, as Zipkin's client and server halves do).
    pub span_id: SpanId,
    /// The caller's own parent. Only B3 carries it.
    pub parent_span_id: Option<SpanId>,
    /// The caller's sampling decision; `None` defers it to the receiver. Extractors set it to
    /// `Some(true)` whenever `debug` is set.
    pub sampled: Option<bool>,
    /// Force recording of the trace (B3 debug). Implies sampled; Datadog headers carry it as
    /// priority 2 (user keep), as Datadog tracers read B3 debug.
    pub debug: bool,
    /// W3C Trace Context level 2: at least the right-most 7 bytes of the trace id are random.
    pub random_trace_id: bool,
    /// The W3C `tracestate` list (`key=value,...`), validated, without optional whitespace and
    /// without Datadog's `dd` member, whose content is in [`datadog`](Self::datadog).
    pub trace_state: Str,
    /// What Datadog tracers propagate beyond ids.
    pub datadog: DatadogContext,
}

/// What Datadog tracers propagate beyond ids and the sampled bit.
///
/// Filled from `x-datadog-*` headers or from the `dd` member of `tracestate`, and written back
/// to both. Empty when the context came from a format without Datadog information.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatadogContext {
    /// -1 user reject, 0 auto reject, 1 auto keep, 2 user keep; other values pass through.
    /// Injectors reconcile it with [`SpanContext::sampled`], see
    /// [`SpanContext::datadog_sampling_priority`].
    pub sampling_priority: Option<i32>,
    /// The Datadog product that started the trace (`synthetics`, `rum`, `lambda`, ...).
    pub origin: Option<Str>,
    /// Propagated trace tags with their full keys (`_dd.p.dm`, `_dd.p.usr.id`, ...), in the
    /// order received. `_dd.p.tid` is not kept here: it is the high half of the trace id.
    pub tags: Vec<(Str, Str)>,
    /// The last Datadog span on the path (`p` in the `dd` member), which lets Datadog reconnect
    /// a trace whose intermediate hops were not sent to it. A Datadog-compatible hop that
    /// starts its own span sets this to that span's id before injecting.
    pub last_parent_id: Option<SpanId>,
}

/// A sampling decision sent without trace identifiers (B3 `b3: 0`, or `X-B3-Sampled` alone).
///
/// There is no context to continue: the receiver starts a new trace and applies the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SamplingDecision {
    Deny,
    Accept,
    /// Accept, and record every span of the trace as debug.
    Debug,
}

impl SpanContext {
    /// A context with these ids and nothing else: no parent, sampling deferred.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        Self {
            trace_id,
            span_id,
            parent_span_id: None,
            sampled: None,
            debug: false,
            random_trace_id: false,
            trace_state: Str::default(),
            datadog: DatadogContext::default(),
        }
    }

    /// Whether the trace is sampled, with debug counting as sampled; `None` when deferred.
    pub fn is_sampled(&self) -> Option<bool> {
        if self.debug { Some(true) } else { self.sampled }
    }

    /// The Datadog sampling priority to send: the one received when it agrees with
    /// [`is_sampled`](Self::is_sampled) (a positive priority keeps the trace), otherwise one
    /// derived from it: 2 for debug, 1 for sampled, 0 for not sampled.
    ///
    /// The same rule Datadog tracers apply when `tracestate` says `s:2` and `traceparent` says
    /// not sampled: the traceparent flag was written by the last hop, so it wins.
    pub fn datadog_sampling_priority(&self) -> Option<i32> {
        let received = self.datadog.sampling_priority;
        match (self.is_sampled(), received) {
            (None, received) => received,
            (Some(sampled), Some(priority)) if (priority > 0) == sampled => Some(priority),
            (Some(true), _) if self.debug => Some(2),
            (Some(true), _) => Some(1),
            (Some(false), _) => Some(0),
        }
    }
}

impl DatadogContext {
    pub fn is_empty(&self) -> bool {
        self.sampling_priority.is_none()
            && self.origin.is_none()
            && self.tags.is_empty()
            && self.last_parent_id.is_none()
    }

    /// The value of a propagated tag, by full key (`_dd.p.dm`).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == key).map(|(_, value)| value.as_str())
    }
}

impl SamplingDecision {
    pub fn is_sampled(self) -> bool {
        !matches!(self, Self::Deny)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(sampled: Option<bool>, debug: bool, priority: Option<i32>) -> SpanContext {
        let mut context = SpanContext::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap());
        context.sampled = sampled;
        context.debug = debug;
        context.datadog.sampling_priority = priority;
        context
    }

    #[test]
    fn datadog_priority_is_kept_when_it_agrees_with_the_sampled_flag() {
        assert_eq!(context(Some(true), false, Some(2)).datadog_sampling_priority(), Some(2));
        assert_eq!(context(Some(false), false, Some(-1)).datadog_sampling_priority(), Some(-1));
        assert_eq!(context(Some(false), false, Some(0)).datadog_sampling_priority(), Some(0));
        assert_eq!(context(None, false, Some(-1)).datadog_sampling_priority(), Some(-1));
        assert_eq!(context(None, false, None).datadog_sampling_priority(), None);
    }

    #[test]
    fn datadog_priority_follows_the_sampled_flag_when_they_disagree() {
        assert_eq!(context(Some(false), false, Some(2)).datadog_sampling_priority(), Some(0));
        assert_eq!(context(Some(true), false, Some(-1)).datadog_sampling_priority(), Some(1));
        assert_eq!(context(Some(true), false, None).datadog_sampling_priority(), Some(1));
        assert_eq!(context(Some(false), false, None).datadog_sampling_priority(), Some(0));
        assert_eq!(context(None, true, None).datadog_sampling_priority(), Some(2));
        assert_eq!(context(Some(false), true, Some(1)).datadog_sampling_priority(), Some(1));
    }
}
