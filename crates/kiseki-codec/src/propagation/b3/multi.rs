//! B3 in multiple headers: `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId`, `X-B3-Sampled`,
//! `X-B3-Flags`. When a header is repeated, its first value wins.

use super::{parse_span_id, parse_trace_id, sampling_state};
use crate::propagation::context::{SamplingDecision, SpanContext};
use crate::propagation::error::PropagationError;
use crate::propagation::headers::{HeaderSink, HeaderSource};
use crate::propagation::text::{excerpt, trim_ows};

pub const TRACE_ID: &str = "x-b3-traceid";
pub const SPAN_ID: &str = "x-b3-spanid";
pub const PARENT_SPAN_ID: &str = "x-b3-parentspanid";
pub const SAMPLED: &str = "x-b3-sampled";
pub const FLAGS: &str = "x-b3-flags";

/// The context in the `X-B3-*` headers; `None` when there is no `X-B3-TraceId`, including when
/// only a sampling state is sent (see [`extract_sampling_only`]).
pub fn extract(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SpanContext>, PropagationError> {
    Ok(read(headers)?.context)
}

/// The sampling state of `X-B3-Sampled` or `X-B3-Flags` sent without ids.
pub fn extract_sampling_only(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SamplingDecision>, PropagationError> {
    let read = read(headers)?;
    Ok(if read.context.is_some() { None } else { read.sampling })
}

/// Writes `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-ParentSpanId` when there is a parent, and
/// `X-B3-Flags: 1` for debug or else `X-B3-Sampled` unless sampling is deferred.
pub fn inject(context: &SpanContext, sink: &mut (impl HeaderSink + ?Sized)) {
    let trace_id = context.trace_id;
    let trace_id = if trace_id.high() == 0 {
        format!("{:016x}", trace_id.low())
    } else {
        trace_id.to_string()
    };
    sink.set_header(TRACE_ID, trace_id);
    sink.set_header(SPAN_ID, context.span_id.to_string());
    if let Some(parent) = context.parent_span_id {
        sink.set_header(PARENT_SPAN_ID, parent.to_string());
    }
    if let Some(decision) = sampling_state(context.debug, context.sampled) {
        inject_sampling_only(decision, sink);
    }
}

/// Writes only a sampling state: `X-B3-Flags: 1` for debug, else `X-B3-Sampled`.
pub fn inject_sampling_only(decision: SamplingDecision, sink: &mut (impl HeaderSink + ?Sized)) {
    match decision {
        SamplingDecision::Debug => sink.set_header(FLAGS, "1".to_owned()),
        SamplingDecision::Accept => sink.set_header(SAMPLED, "1".to_owned()),
        SamplingDecision::Deny => sink.set_header(SAMPLED, "0".to_owned()),
    }
}

struct Read {
    context: Option<SpanContext>,
    sampling: Option<SamplingDecision>,
}

fn read(headers: &(impl HeaderSource + ?Sized)) -> Result<Read, PropagationError> {
    let value = |name| headers.header(name).map(trim_ows);
    let sampled = value(SAMPLED).map(parse_sampled).transpose()?;
    let debug = value(FLAGS).map(parse_flags).transpose()?.unwrap_or(false);

    let context = match (value(TRACE_ID), value(SPAN_ID)) {
        (None, None) => {
            if value(PARENT_SPAN_ID).is_some() {
                return Err(PropagationError::Missing {
                    header: TRACE_ID,
                    present: PARENT_SPAN_ID,
                });
            }
            None
        }
        (None, Some(_)) => {
            return Err(PropagationError::Missing { header: TRACE_ID, present: SPAN_ID });
        }
        (Some(_), None) => {
            return Err(PropagationError::Missing { header: SPAN_ID, present: TRACE_ID });
        }
        (Some(trace_id), Some(span_id)) => {
            let trace_id = parse_trace_id(TRACE_ID, trace_id)?;
            let span_id = parse_span_id(SPAN_ID, "span id", span_id)?
                .ok_or_else(|| PropagationError::malformed(SPAN_ID, "span id is all zeros"))?;
            let parent_span_id = match value(PARENT_SPAN_ID) {
                Some(parent) => parse_span_id(PARENT_SPAN_ID, "parent span id", parent)?,
                None => None,
            };
            let mut context = SpanContext::new(trace_id, span_id);
            context.parent_span_id = parent_span_id;
            context.sampled = if debug { Some(true) } else { sampled };
            context.debug = debug;
            Some(context)
        }
    };
    Ok(Read { context, sampling: sampling_state(debug, sampled) })
}

/// `1` and `0`, and the `true` and `false` that tracers sent before the specification.
fn parse_sampled(text: &str) -> Result<bool, PropagationError> {
    match text {
        "1" => Ok(true),
        "0" => Ok(false),
        _ if text.eq_ignore_ascii_case("true") => Ok(true),
        _ if text.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(PropagationError::malformed(SAMPLED, format!("{} is not 1 or 0", excerpt(text)))),
    }
}

fn parse_flags(text: &str) -> Result<bool, PropagationError> {
    match text {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(PropagationError::malformed(FLAGS, format!("{} is not 1 or 0", excerpt(text)))),
    }
}

#[cfg(test)]
mod tests {
    use kiseki_model::{SpanId, TraceId};

    use super::*;

    fn extract_from(headers: &[(&str, &str)]) -> Result<Option<SpanContext>, PropagationError> {
        extract(headers)
    }

    #[test]
    fn reads_the_readme_example() {
        let context = extract_from(&[
            ("X-B3-TraceId", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("X-B3-ParentSpanId", "05e3ac9a4f6e3b90"),
            ("X-B3-SpanId", "e457b5a2e4d86bd1"),
            ("X-B3-Sampled", "1"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(context.trace_id.to_string(), "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(context.span_id.to_string(), "e457b5a2e4d86bd1");
        assert_eq!(context.parent_span_id.unwrap().to_string(), "05e3ac9a4f6e3b90");
        assert_eq!(context.sampled, Some(true));
        assert!(!context.debug);
    }

    #[test]
    fn sixty_four_bit_trace_ids_fill_the_low_half() {
        let context = extract_from(&[
            ("x-b3-traceid", "463ac35c9f6413ad"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(context.trace_id, TraceId::new(0x463a_c35c_9f64_13ad).unwrap());
        assert_eq!(context.sampled, None, "no X-B3-Sampled defers the decision");
        assert_eq!(context.parent_span_id, None);
    }

    #[test]
    fn accepts_true_false_and_upper_case_hex() {
        for (text, sampled) in [("true", true), ("False", false), ("0", false)] {
            let context = extract_from(&[
                ("x-b3-traceid", "463AC35C9F6413AD"),
                ("x-b3-spanid", "A2FB4A1D1A96D312"),
                ("x-b3-sampled", text),
            ])
            .unwrap()
            .unwrap();
            assert_eq!(context.sampled, Some(sampled), "{text}");
            assert_eq!(context.span_id, SpanId::new(0xa2fb_4a1d_1a96_d312).unwrap());
        }
    }

    #[test]
    fn flags_one_is_debug_and_implies_sampled() {
        let context = extract_from(&[
            ("x-b3-traceid", "463ac35c9f6413ad"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-flags", "1"),
        ])
        .unwrap()
        .unwrap();
        assert!(context.debug);
        assert_eq!(context.sampled, Some(true));
        assert_eq!(context.is_sampled(), Some(true));
    }

    #[test]
    fn sampling_state_alone_is_no_context_but_a_decision() {
        for (headers, decision) in [
            (vec![("X-B3-Sampled", "0")], SamplingDecision::Deny),
            (vec![("X-B3-Sampled", "1")], SamplingDecision::Accept),
            (vec![("X-B3-Flags", "1")], SamplingDecision::Debug),
        ] {
            assert_eq!(extract_from(&headers), Ok(None));
            assert_eq!(extract_sampling_only(headers.as_slice()), Ok(Some(decision)));
        }
        let with_ids = [("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "a2fb4a1d1a96d312")];
        assert_eq!(extract_sampling_only(with_ids.as_slice()), Ok(None));
        assert_eq!(extract_from(&[]), Ok(None));
    }

    #[test]
    fn malformed_or_incomplete_headers_are_errors() {
        let span = ("x-b3-spanid", "a2fb4a1d1a96d312");
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("x-b3-traceid", "463ac35c9f6413a"), span],
                "x-b3-traceid header: trace id \"463ac35c9f6413a\" is not 16 or 32 hex digits",
            ),
            (
                vec![("x-b3-traceid", "0000000000000000"), span],
                "x-b3-traceid header: trace id is all zeros",
            ),
            (
                vec![("x-b3-traceid", "463ac35c9f6413ad")],
                "x-b3-spanid header is missing but x-b3-traceid is present",
            ),
            (vec![span], "x-b3-traceid header is missing but x-b3-spanid is present"),
            (
                vec![("x-b3-parentspanid", "a2fb4a1d1a96d312")],
                "x-b3-traceid header is missing but x-b3-parentspanid is present",
            ),
            (
                vec![("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "0000000000000000")],
                "x-b3-spanid header: span id is all zeros",
            ),
            (
                vec![("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "xyz")],
                "x-b3-spanid header: span id \"xyz\" is not 16 hex digits",
            ),
            (
                vec![("x-b3-traceid", "463ac35c9f6413ad"), span, ("x-b3-parentspanid", "1")],
                "x-b3-parentspanid header: parent span id \"1\" is not 16 hex digits",
            ),
            (vec![("x-b3-sampled", "yes")], "x-b3-sampled header: \"yes\" is not 1 or 0"),
            (vec![("x-b3-flags", "2")], "x-b3-flags header: \"2\" is not 1 or 0"),
        ];
        for (headers, message) in cases {
            assert_eq!(extract_from(&headers).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn a_zero_parent_is_read_as_no_parent() {
        let context = extract_from(&[
            ("x-b3-traceid", "463ac35c9f6413ad"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-parentspanid", "0000000000000000"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(context.parent_span_id, None);
    }

    #[test]
    fn writes_lowercase_fixed_width_and_flags_instead_of_sampled_for_debug() {
        let mut context =
            SpanContext::new(TraceId::from_halves(0, 0xab).unwrap(), SpanId::new(0xcd).unwrap());
        context.parent_span_id = SpanId::new(0xef);
        context.sampled = Some(true);
        context.debug = true;
        let mut headers = Vec::new();
        inject(&context, &mut headers);
        assert_eq!(
            headers,
            [
                ("x-b3-traceid".to_owned(), "00000000000000ab".to_owned()),
                ("x-b3-spanid".to_owned(), "00000000000000cd".to_owned()),
                ("x-b3-parentspanid".to_owned(), "00000000000000ef".to_owned()),
                ("x-b3-flags".to_owned(), "1".to_owned()),
            ]
        );

        context.trace_id = TraceId::from_halves(1, 0xab).unwrap();
        context.debug = false;
        context.sampled = Some(false);
        context.parent_span_id = None;
        let mut headers = Vec::new();
        inject(&context, &mut headers);
        assert_eq!(headers.header(TRACE_ID), Some("000000000000000100000000000000ab"));
        assert_eq!(headers.header(SAMPLED), Some("0"));
        assert_eq!(headers.header(PARENT_SPAN_ID), None);
        assert_eq!(headers.header(FLAGS), None);
    }
}
