//! Zipkin's B3 propagation, in its two HTTP encodings (openzipkin/b3-propagation).
//!
//! Both carry a 64- or 128-bit trace id, the caller's span id and optionally its parent, and a
//! sampling state: accept, deny, debug or absent (defer). Both may also carry a sampling state
//! alone, without ids (`b3: 0`, `X-B3-Sampled: 0`): `extract` then returns `None`, as there is no
//! trace to continue, and `extract_sampling_only` returns the decision. When a request has both
//! encodings, the single header wins ([`extract_sampling_only`] applies that rule too).
//!
//! Reading is lenient where tracers are known to differ: hex ids in either case,
//! `X-B3-Sampled: true|false`, surrounding whitespace. Writing is strict: lowercase hex, a 16-digit
//! trace id when its high half is zero, no `X-B3-Sampled` next to `X-B3-Flags: 1`.

pub mod multi;
pub mod single;

use kiseki_model::{SpanId, TraceId};

use super::context::SamplingDecision;
use super::error::PropagationError;
use super::headers::HeaderSource;
use super::text::{HexCase, excerpt, parse_hex};

/// The sampling decision of a request that carries B3 sampling state but no ids; the single
/// header wins over the multiple headers. `None` when B3 headers are absent or carry ids.
pub fn extract_sampling_only(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SamplingDecision>, PropagationError> {
    if headers.header(single::B3).is_some() {
        return single::extract_sampling_only(headers);
    }
    multi::extract_sampling_only(headers)
}

/// Reads a 16- or 32-digit trace id; 16 digits fill the low half.
fn parse_trace_id(header: &'static str, text: &str) -> Result<TraceId, PropagationError> {
    let value = match text.len() {
        16 | 32 => parse_hex(text, text.len(), HexCase::Any),
        _ => None,
    }
    .ok_or_else(|| {
        PropagationError::malformed(
            header,
            format!("trace id {} is not 16 or 32 hex digits", excerpt(text)),
        )
    })?;
    TraceId::new(value).ok_or_else(|| PropagationError::malformed(header, "trace id is all zeros"))
}

/// Reads a 16-digit span id; `what` names it in errors ("span id", "parent span id").
fn parse_span_id(
    header: &'static str,
    what: &str,
    text: &str,
) -> Result<Option<SpanId>, PropagationError> {
    let value = parse_hex(text, 16, HexCase::Any).ok_or_else(|| {
        PropagationError::malformed(
            header,
            format!("{what} {} is not 16 hex digits", excerpt(text)),
        )
    })?;
    Ok(u64::try_from(value).ok().and_then(SpanId::new))
}

fn sampling_state(debug: bool, sampled: Option<bool>) -> Option<SamplingDecision> {
    match (debug, sampled) {
        (true, _) => Some(SamplingDecision::Debug),
        (false, Some(true)) => Some(SamplingDecision::Accept),
        (false, Some(false)) => Some(SamplingDecision::Deny),
        (false, None) => None,
    }
}
