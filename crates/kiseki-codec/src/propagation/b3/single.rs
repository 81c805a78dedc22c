//! B3 in one header: `b3: {traceid}-{spanid}[-{sampling}[-{parentspanid}]]`, or a sampling
//! state alone (`b3: 0`, `b3: 1`, `b3: d`).
//!
//! A third field of 16 hex digits is read as the parent with the sampling state deferred, as
//! Brave does; the README's example that converts multiple headers into one swaps the span and
//! parent ids by mistake: the second field is the span id.

use super::{parse_span_id, parse_trace_id, sampling_state};
use crate::propagation::context::{SamplingDecision, SpanContext};
use crate::propagation::error::PropagationError;
use crate::propagation::headers::{HeaderSink, HeaderSource};
use crate::propagation::text::{excerpt, trim_ows};

pub const B3: &str = "b3";

/// The context in the `b3` header; `None` when it is absent or holds only a sampling state.
pub fn extract(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SpanContext>, PropagationError> {
    match read(headers)? {
        Some(Read::Context(context)) => Ok(Some(context)),
        Some(Read::SamplingOnly(_)) | None => Ok(None),
    }
}

/// The decision of a `b3` header that holds only a sampling state (`0`, `1` or `d`).
pub fn extract_sampling_only(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SamplingDecision>, PropagationError> {
    match read(headers)? {
        Some(Read::SamplingOnly(decision)) => Ok(Some(decision)),
        Some(Read::Context(_)) | None => Ok(None),
    }
}

/// Writes `b3: {traceid}-{spanid}`, then `-1`, `-0` or `-d` unless sampling is deferred, then
/// `-{parentspanid}` when there is a parent.
pub fn inject(context: &SpanContext, sink: &mut (impl HeaderSink + ?Sized)) {
    let trace_id = context.trace_id;
    let mut value = if trace_id.high() == 0 {
        format!("{:016x}-{}", trace_id.low(), context.span_id)
    } else {
        format!("{trace_id}-{}", context.span_id)
    };
    if let Some(decision) = sampling_state(context.debug, context.sampled) {
        value.push('-');
        value.push_str(sampling_text(decision));
    }
    if let Some(parent) = context.parent_span_id {
        value.push('-');
        value.push_str(&parent.to_string());
    }
    sink.set_header(B3, value);
}

/// Writes `b3: 0`, `b3: 1` or `b3: d`.
pub fn inject_sampling_only(decision: SamplingDecision, sink: &mut (impl HeaderSink + ?Sized)) {
    sink.set_header(B3, sampling_text(decision).to_owned());
}

fn sampling_text(decision: SamplingDecision) -> &'static str {
    match decision {
        SamplingDecision::Deny => "0",
        SamplingDecision::Accept => "1",
        SamplingDecision::Debug => "d",
    }
}

enum Read {
    Context(SpanContext),
    SamplingOnly(SamplingDecision),
}

fn read(headers: &(impl HeaderSource + ?Sized)) -> Result<Option<Read>, PropagationError> {
    let Some(value) = headers.header(B3).map(trim_ows) else {
        return Ok(None);
    };
    let mut fields = value.split('-');
    let first = fields.next().unwrap_or_default();
    let Some(second) = fields.next() else {
        return match parse_sampling(first) {
            Some(decision) => Ok(Some(Read::SamplingOnly(decision))),
            None => Err(PropagationError::malformed(
                B3,
                format!(
                    "{} is neither {{traceid}}-{{spanid}}[-{{sampling}}[-{{parentspanid}}]] \
                     nor a sampling state 0, 1 or d",
                    excerpt(value)
                ),
            )),
        };
    };
    let trace_id = parse_trace_id(B3, first)?;
    let span_id = parse_span_id(B3, "span id", second)?
        .ok_or_else(|| PropagationError::malformed(B3, "span id is all zeros"))?;
    let mut context = SpanContext::new(trace_id, span_id);

    let (sampling, parent) = match (fields.next(), fields.next()) {
        (None, _) => (None, None),
        (Some(third), None) if third.len() == 16 => (None, Some(third)),
        (Some(third), parent) => (Some(third), parent),
    };
    if let Some(sampling) = sampling {
        let decision = parse_sampling(sampling).ok_or_else(|| {
            PropagationError::malformed(
                B3,
                format!("sampling state {} is not 0, 1 or d", excerpt(sampling)),
            )
        })?;
        context.sampled = Some(decision.is_sampled());
        context.debug = decision == SamplingDecision::Debug;
    }
    if let Some(parent) = parent {
        context.parent_span_id = parse_span_id(B3, "parent span id", parent)?;
    }
    if fields.next().is_some() {
        return Err(PropagationError::malformed(B3, "has more than 4 fields"));
    }
    Ok(Some(Read::Context(context)))
}

fn parse_sampling(text: &str) -> Option<SamplingDecision> {
    match text {
        "0" => Some(SamplingDecision::Deny),
        "1" => Some(SamplingDecision::Accept),
        "d" => Some(SamplingDecision::Debug),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use kiseki_model::{SpanId, TraceId};

    use super::*;

    const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const SPAN: &str = "e457b5a2e4d86bd1";
    const PARENT: &str = "05e3ac9a4f6e3b90";

    fn extract_value(value: &str) -> Result<Option<SpanContext>, PropagationError> {
        extract(&[("b3", value)])
    }

    #[test]
    fn reads_the_readme_examples() {
        let context = extract_value(&format!("{TRACE}-{SPAN}-1-{PARENT}")).unwrap().unwrap();
        assert_eq!(context.trace_id.to_string(), TRACE);
        assert_eq!(context.span_id.to_string(), SPAN);
        assert_eq!(context.parent_span_id.unwrap().to_string(), PARENT);
        assert_eq!((context.sampled, context.debug), (Some(true), false));

        let debug = extract_value(&format!("{TRACE}-{PARENT}-d")).unwrap().unwrap();
        assert_eq!(debug.span_id.to_string(), PARENT);
        assert_eq!((debug.sampled, debug.debug), (Some(true), true));
        assert_eq!(debug.parent_span_id, None);

        let deferred = extract_value(&format!("{TRACE}-{SPAN}")).unwrap().unwrap();
        assert_eq!(deferred.sampled, None);

        let denied = extract_value(&format!("{}-{SPAN}-0", &TRACE[16..])).unwrap().unwrap();
        assert_eq!(denied.trace_id.high(), 0);
        assert_eq!(denied.sampled, Some(false));
    }

    #[test]
    fn a_sixteen_digit_third_field_is_a_parent_with_sampling_deferred() {
        let context = extract_value(&format!("{TRACE}-{SPAN}-{PARENT}")).unwrap().unwrap();
        assert_eq!(context.parent_span_id.unwrap().to_string(), PARENT);
        assert_eq!(context.sampled, None);
    }

    #[test]
    fn a_sampling_state_alone_is_a_decision_without_context() {
        for (value, decision) in [
            ("0", SamplingDecision::Deny),
            ("1", SamplingDecision::Accept),
            ("d", SamplingDecision::Debug),
            (" 0 ", SamplingDecision::Deny),
        ] {
            let headers = [("B3", value)];
            assert_eq!(extract(&headers), Ok(None), "{value}");
            assert_eq!(extract_sampling_only(&headers), Ok(Some(decision)), "{value}");
        }
        let headers = [("b3", format!("{TRACE}-{SPAN}-1"))];
        assert_eq!(extract_sampling_only(&headers), Ok(None));
        assert_eq!(extract_sampling_only(&[("traceparent", "x")]), Ok(None));
    }

    #[test]
    fn malformed_values_are_errors() {
        // Cases from Brave's B3SingleFormatTest.
        for value in [
            "",
            "-",
            "-1",
            "1-",
            "1-0",
            "not-a-tumor",
            "b970dafd-0d95-40aa-95d8-1d8725aebe40",
            &TRACE[..15],
            TRACE,
            &format!("{TRACE}-"),
            &format!("{}?-{SPAN}", &TRACE[..15]),
            &format!("{TRACE}-{}?", &SPAN[..15]),
            &format!("{TRACE}-{SPAN}-"),
            &format!("{TRACE}-{SPAN}-1-"),
            &format!("{TRACE}-{SPAN}-1-{}", &PARENT[..15]),
            &format!("{TRACE}-{SPAN}-1-{}?", &PARENT[..15]),
            &format!("{TRACE}-{SPAN}-0-?"),
            &format!("{TRACE}a-{SPAN}"),
            &format!("{TRACE}-{SPAN}a"),
            &format!("{TRACE}-{SPAN}-{PARENT}a"),
            &format!("{TRACE}-{SPAN}-x"),
            &format!("{TRACE}-{SPAN}-1-{PARENT}-1"),
            &format!("{TRACE}-0000000000000000-1"),
            &format!("{}-{SPAN}-1", "0".repeat(32)),
        ] {
            assert!(extract_value(value).is_err(), "{value:?} should be an error");
        }
        assert_eq!(
            extract_value("nope").unwrap_err().to_string(),
            "b3 header: \"nope\" is neither {traceid}-{spanid}[-{sampling}[-{parentspanid}]] \
             nor a sampling state 0, 1 or d"
        );
        assert_eq!(
            extract_value(&format!("{TRACE}-{SPAN}-x")).unwrap_err().to_string(),
            "b3 header: sampling state \"x\" is not 0, 1 or d"
        );
    }

    #[test]
    fn writes_what_brave_writes() {
        let mut context =
            SpanContext::new(TraceId::from_halves(0, 1).unwrap(), SpanId::new(3).unwrap());
        let written = |context: &SpanContext| {
            let mut headers = Vec::new();
            inject(context, &mut headers);
            headers.header(B3).unwrap().to_owned()
        };
        assert_eq!(written(&context), "0000000000000001-0000000000000003");
        context.sampled = Some(false);
        assert_eq!(written(&context), "0000000000000001-0000000000000003-0");
        context.sampled = Some(true);
        context.parent_span_id = SpanId::new(2);
        assert_eq!(written(&context), "0000000000000001-0000000000000003-1-0000000000000002");
        context.debug = true;
        context.trace_id = TraceId::from_halves(9, 1).unwrap();
        assert_eq!(
            written(&context),
            "00000000000000090000000000000001-0000000000000003-d-0000000000000002"
        );

        let mut headers = Vec::new();
        inject_sampling_only(SamplingDecision::Deny, &mut headers);
        assert_eq!(headers.header(B3), Some("0"));
    }
}
