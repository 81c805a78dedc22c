//! Datadog's propagation headers, as dd-trace-py and dd-trace-js write and read them.
//!
//! ```text
//! x-datadog-trace-id: 5312747147029962232          low 64 bits of the trace id, decimal
//! x-datadog-parent-id: 3085843876568743659         the caller's span id, decimal
//! x-datadog-sampling-priority: 2                   -1 user reject .. 2 user keep
//! x-datadog-origin: synthetics                     the Datadog product that started the trace
//! x-datadog-tags: _dd.p.dm=-4,_dd.p.tid=6b023b3e00000000
//! ```
//!
//! The high 64 bits of a 128-bit trace id travel as `_dd.p.tid` in `x-datadog-tags`; a tags
//! header that is too long or malformed is dropped as dd-trace drops it, and the trace id is then
//! read as 64 bits, as dd-trace reads it. Datadog's member of W3C `tracestate` is in
//! [`tracestate`].

pub mod tags;
pub mod tracestate;

use kiseki_model::{SpanId, Str, TraceId};

use super::context::{DatadogContext, SpanContext};
use super::error::PropagationError;
use super::headers::{HeaderSink, HeaderSource};
use super::text::{excerpt, parse_decimal_i32, parse_decimal_u64, trim_ows};

pub const TRACE_ID: &str = "x-datadog-trace-id";
pub const PARENT_ID: &str = "x-datadog-parent-id";
pub const SAMPLING_PRIORITY: &str = "x-datadog-sampling-priority";
pub const ORIGIN: &str = "x-datadog-origin";
pub const TAGS: &str = "x-datadog-tags";

/// The context in the `x-datadog-*` headers; `None` without `x-datadog-trace-id`.
///
/// Both ids must be non-zero decimals (dd-trace-py tolerates a missing or zero parent id; a
/// context here always has a span to continue from). `sampled` follows the priority (positive
/// means sampled) and is deferred without one.
pub fn extract(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SpanContext>, PropagationError> {
    let value = |name| headers.header(name).map(trim_ows);
    let Some(trace_id) = value(TRACE_ID) else {
        if value(PARENT_ID).is_some() {
            return Err(PropagationError::Missing { header: TRACE_ID, present: PARENT_ID });
        }
        return Ok(None);
    };
    let trace_id_low = parse_id(TRACE_ID, trace_id)?;
    let span_id = value(PARENT_ID)
        .ok_or(PropagationError::Missing { header: PARENT_ID, present: TRACE_ID })
        .and_then(|text| parse_id(PARENT_ID, text))?;
    let sampling_priority = value(SAMPLING_PRIORITY)
        .map(|text| {
            parse_decimal_i32(text).ok_or_else(|| {
                PropagationError::malformed(
                    SAMPLING_PRIORITY,
                    format!("{} is not an integer", excerpt(text)),
                )
            })
        })
        .transpose()?;
    let origin = value(ORIGIN).filter(|origin| !origin.is_empty()).map(Str::from);
    let tags = value(TAGS).map(tags::decode).unwrap_or_default();

    let trace_id = TraceId::from_halves(tags.trace_id_high.unwrap_or(0), trace_id_low)
        .ok_or_else(|| PropagationError::malformed(TRACE_ID, "trace id is 0"))?;
    let span_id = SpanId::new(span_id)
        .ok_or_else(|| PropagationError::malformed(PARENT_ID, "span id is 0"))?;
    let mut context = SpanContext::new(trace_id, span_id);
    context.sampled = sampling_priority.map(|priority| priority > 0);
    context.datadog =
        DatadogContext { sampling_priority, origin, tags: tags.tags, last_parent_id: None };
    Ok(Some(context))
}

/// Writes the ids, the sampling priority when known (see
/// [`SpanContext::datadog_sampling_priority`]), the origin, and `x-datadog-tags` with
/// `_dd.p.tid` first when the trace id has a high half.
///
/// Characters a header cannot hold are replaced by `_` in the origin; tags that do not follow
/// the `x-datadog-tags` grammar or no longer fit in its 512 bytes are left out.
pub fn inject(context: &SpanContext, sink: &mut (impl HeaderSink + ?Sized)) {
    sink.set_header(TRACE_ID, context.trace_id.low().to_string());
    sink.set_header(PARENT_ID, context.span_id.get().to_string());
    if let Some(priority) = context.datadog_sampling_priority() {
        sink.set_header(SAMPLING_PRIORITY, priority.to_string());
    }
    if let Some(origin) = &context.datadog.origin {
        let origin: String =
            origin.chars().map(|c| if matches!(c, ' '..='~') { c } else { '_' }).collect();
        let origin = origin.trim_matches(' ');
        if !origin.is_empty() {
            sink.set_header(ORIGIN, origin.to_owned());
        }
    }
    if let Some(tags) = tags::encode(context.trace_id.high(), &context.datadog.tags) {
        sink.set_header(TAGS, tags);
    }
}

fn parse_id(header: &'static str, text: &str) -> Result<u64, PropagationError> {
    match parse_decimal_u64(text) {
        Some(0) => Err(PropagationError::malformed(header, "id is 0")),
        Some(id) => Ok(id),
        None => Err(PropagationError::malformed(
            header,
            format!("{} is not a decimal number from 1 to 18446744073709551615", excerpt(text)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extract_from(headers: &[(&str, &str)]) -> Result<Option<SpanContext>, PropagationError> {
        extract(headers)
    }

    #[test]
    fn reads_ids_priority_origin_and_tags() {
        // What ddtrace 4.16 (Python) sent for a manually kept span with a synthetics origin.
        let context = extract_from(&[
            ("x-datadog-trace-id", "5312747147029962232"),
            ("x-datadog-parent-id", "3085843876568743659"),
            ("x-datadog-sampling-priority", "2"),
            ("x-datadog-origin", "synthetics"),
            ("x-datadog-tags", "_dd.p.dm=-4,_dd.p.tid=6b023b3e00000000"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(context.trace_id.to_string(), "6b023b3e0000000049baab61d030ddf8");
        assert_eq!(context.span_id.to_string(), "2ad31ea7ff31beeb");
        assert_eq!(context.sampled, Some(true));
        assert_eq!(context.datadog.sampling_priority, Some(2));
        assert_eq!(context.datadog.origin.as_deref(), Some("synthetics"));
        assert_eq!(context.datadog.tag("_dd.p.dm"), Some("-4"));
        assert_eq!(context.datadog.tag("_dd.p.tid"), None);
        assert_eq!(context.parent_span_id, None);
    }

    #[test]
    fn priorities_map_to_sampled_and_absence_defers() {
        let ids = [("x-datadog-trace-id", "1"), ("x-datadog-parent-id", "2")];
        for (priority, sampled) in [("-1", false), ("0", false), ("1", true), ("2", true)] {
            let mut headers = ids.to_vec();
            headers.push(("x-datadog-sampling-priority", priority));
            let context = extract_from(&headers).unwrap().unwrap();
            assert_eq!(context.sampled, Some(sampled), "{priority}");
        }
        let context = extract_from(&ids).unwrap().unwrap();
        assert_eq!((context.sampled, context.datadog.sampling_priority), (None, None));
        assert_eq!(context.trace_id, TraceId::new(1).unwrap());
    }

    #[test]
    fn a_malformed_or_too_long_tags_header_costs_the_high_trace_id() {
        let long = format!("_dd.p.tid=6b023b3e00000000,_dd.p.x={}", "y".repeat(500));
        for tags in ["_dd.p.tid=6b023b3e0000000Z", "_dd.p.tid=6b023b3e00000000,oops", &long] {
            let context = extract_from(&[
                ("x-datadog-trace-id", "5312747147029962232"),
                ("x-datadog-parent-id", "3085843876568743659"),
                ("x-datadog-tags", tags),
            ])
            .unwrap()
            .unwrap();
            assert_eq!(context.trace_id.high(), 0, "{tags}");
            assert_eq!(context.trace_id.low(), 5_312_747_147_029_962_232);
        }
    }

    #[test]
    fn absent_ids_are_no_context_and_bad_ids_are_errors() {
        assert_eq!(extract_from(&[]), Ok(None));
        assert_eq!(extract_from(&[("x-datadog-sampling-priority", "1")]), Ok(None));
        let cases: [(&[(&str, &str)], &str); 7] = [
            (
                &[("x-datadog-parent-id", "2")],
                "x-datadog-trace-id header is missing but x-datadog-parent-id is present",
            ),
            (
                &[("x-datadog-trace-id", "1")],
                "x-datadog-parent-id header is missing but x-datadog-trace-id is present",
            ),
            (
                &[("x-datadog-trace-id", "0"), ("x-datadog-parent-id", "2")],
                "x-datadog-trace-id header: id is 0",
            ),
            (
                &[("x-datadog-trace-id", "1"), ("x-datadog-parent-id", "0")],
                "x-datadog-parent-id header: id is 0",
            ),
            (
                &[("x-datadog-trace-id", "-1"), ("x-datadog-parent-id", "2")],
                "x-datadog-trace-id header: \"-1\" is not a decimal number from 1 to 18446744073709551615",
            ),
            (
                &[("x-datadog-trace-id", "18446744073709551616"), ("x-datadog-parent-id", "2")],
                "x-datadog-trace-id header: \"18446744073709551616\" is not a decimal number from 1 to 18446744073709551615",
            ),
            (
                &[
                    ("x-datadog-trace-id", "1"),
                    ("x-datadog-parent-id", "2"),
                    ("x-datadog-sampling-priority", "keep"),
                ],
                "x-datadog-sampling-priority header: \"keep\" is not an integer",
            ),
        ];
        for (headers, message) in cases {
            assert_eq!(extract_from(headers).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn writes_decimal_ids_and_the_high_half_as_a_tag() {
        let mut context = SpanContext::new(
            TraceId::from_halves(0x6b02_3b3e_0000_0000, 5_312_747_147_029_962_232).unwrap(),
            SpanId::new(3_085_843_876_568_743_659).unwrap(),
        );
        context.sampled = Some(true);
        context.datadog.sampling_priority = Some(2);
        context.datadog.origin = Some(Str::from("synthetics"));
        context.datadog.tags.push((Str::from("_dd.p.dm"), Str::from("-4")));
        let mut headers = Vec::new();
        inject(&context, &mut headers);
        let expected = [
            ("x-datadog-trace-id", "5312747147029962232"),
            ("x-datadog-parent-id", "3085843876568743659"),
            ("x-datadog-sampling-priority", "2"),
            ("x-datadog-origin", "synthetics"),
            ("x-datadog-tags", "_dd.p.tid=6b023b3e00000000,_dd.p.dm=-4"),
        ];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(headers, expected);

        let plain = SpanContext::new(TraceId::new(1).unwrap(), SpanId::new(2).unwrap());
        let mut headers = Vec::new();
        inject(&plain, &mut headers);
        assert_eq!(headers.len(), 2, "no priority when deferred, no tags for a 64-bit id");
    }
}
