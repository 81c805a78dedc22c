//! W3C Trace Context: `traceparent` and `tracestate` (levels 1 and 2).
//!
//! `traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, lowercase only, ids not
//! all zeros, version `ff` invalid. A higher version is read leniently, as the specification
//! asks: the same first 55 characters, followed by the end or by `-` and fields that are not
//! read. Of the flags, bit 0 is sampled and bit 1 (level 2) says the trace id is random; other
//! bits are ignored and written as zero. A repeated `traceparent` is an error (the test suite
//! expects a new trace).
//!
//! `tracestate` is read only with a valid `traceparent`; an invalid list is dropped without
//! failing the extraction (see [`super::tracestate`]). Datadog's `dd` member is read into
//! [`SpanContext::datadog`] as [`datadog::tracestate`] describes,
//! and written back as the first member.

use kiseki_model::{SpanId, Str, TraceId};

use super::context::SpanContext;
use super::datadog;
use super::error::PropagationError;
use super::headers::{HeaderSink, HeaderSource};
use super::text::{HexCase, excerpt, parse_hex, trim_ows};
use super::tracestate::{self, Member};

pub const TRACEPARENT: &str = "traceparent";
pub const TRACESTATE: &str = "tracestate";

const SAMPLED_FLAG: u8 = 0x01;
const RANDOM_TRACE_ID_FLAG: u8 = 0x02;
/// `00-` + 32 + `-` + 16 + `-` + 2.
const VERSION_00_LENGTH: usize = 55;

/// The context in `traceparent` and `tracestate`; `None` without `traceparent`.
pub fn extract(
    headers: &(impl HeaderSource + ?Sized),
) -> Result<Option<SpanContext>, PropagationError> {
    let values = headers.header_values(TRACEPARENT);
    let value = match values.as_slice() {
        [] => return Ok(None),
        [value] => trim_ows(value),
        _ => return Err(PropagationError::Repeated { header: TRACEPARENT, count: values.len() }),
    };
    let mut context = parse_traceparent(value)?;

    let fields = headers.header_values(TRACESTATE);
    let members = tracestate::parse(&fields).unwrap_or_default();
    let sampled = context.sampled == Some(true);
    let mut others = Vec::with_capacity(members.len());
    for member in members {
        if member.key == datadog::tracestate::KEY {
            context.datadog = datadog::tracestate::read(member.value, sampled);
        } else {
            others.push(member);
        }
    }
    context.trace_state = Str::from(tracestate::join(others));
    Ok(Some(context))
}

/// Writes `traceparent` (version 00; sampled when [`SpanContext::is_sampled`] is true, since the
/// flag cannot say "deferred") and, when not empty, `tracestate`: Datadog's member first when
/// the context has Datadog information, then the members of [`SpanContext::trace_state`],
/// at most 32 in all.
pub fn inject(context: &SpanContext, sink: &mut (impl HeaderSink + ?Sized)) {
    let mut flags = 0;
    if context.is_sampled() == Some(true) {
        flags |= SAMPLED_FLAG;
    }
    if context.random_trace_id {
        flags |= RANDOM_TRACE_ID_FLAG;
    }
    sink.set_header(
        TRACEPARENT,
        format!("00-{}-{}-{flags:02x}", context.trace_id, context.span_id),
    );
    let dd = datadog::tracestate::write(context);
    let first = dd.as_deref().map(|value| Member { key: datadog::tracestate::KEY, value });
    let trace_state = tracestate::compose(first, &context.trace_state);
    if !trace_state.is_empty() {
        sink.set_header(TRACESTATE, trace_state);
    }
}

fn parse_traceparent(value: &str) -> Result<SpanContext, PropagationError> {
    let malformed = |problem: &str| PropagationError::malformed(TRACEPARENT, problem);
    let field = |range: std::ops::Range<usize>| value.get(range).unwrap_or_default();
    let dash_at = |index: usize| value.as_bytes().get(index) == Some(&b'-');

    let version =
        parse_hex(field(0..2), 2, HexCase::Lower).filter(|_| dash_at(2)).ok_or_else(|| {
            PropagationError::malformed(
                TRACEPARENT,
                format!(
                    "{} does not start with a version of 2 lowercase hex digits and '-'",
                    excerpt(value)
                ),
            )
        })?;
    if version == 0xff {
        return Err(malformed("version ff is invalid"));
    }
    if value.len() < VERSION_00_LENGTH {
        return Err(PropagationError::malformed(
            TRACEPARENT,
            format!("has {} characters, expected 55", value.len()),
        ));
    }
    let trace_id = parse_hex(field(3..35), 32, HexCase::Lower)
        .filter(|_| dash_at(35))
        .ok_or_else(|| malformed("trace id is not 32 lowercase hex digits followed by '-'"))?;
    let span_id = parse_hex(field(36..52), 16, HexCase::Lower)
        .filter(|_| dash_at(52))
        .ok_or_else(|| malformed("parent id is not 16 lowercase hex digits followed by '-'"))?;
    let flags = parse_hex(field(53..55), 2, HexCase::Lower)
        .ok_or_else(|| malformed("flags are not 2 lowercase hex digits"))?;
    if value.len() > VERSION_00_LENGTH {
        if version == 0 {
            return Err(PropagationError::malformed(
                TRACEPARENT,
                format!("has {} characters, version 00 has 55", value.len()),
            ));
        }
        if !dash_at(VERSION_00_LENGTH) {
            return Err(malformed("flags are not followed by '-' or the end"));
        }
    }

    let trace_id = TraceId::new(trace_id).ok_or_else(|| malformed("trace id is all zeros"))?;
    let span_id = u64::try_from(span_id)
        .ok()
        .and_then(SpanId::new)
        .ok_or_else(|| malformed("parent id is all zeros"))?;
    let flags = u8::try_from(flags).unwrap_or_default();
    let mut context = SpanContext::new(trace_id, span_id);
    context.sampled = Some(flags & SAMPLED_FLAG != 0);
    context.random_trace_id = flags & RANDOM_TRACE_ID_FLAG != 0;
    Ok(context)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-12345678901234567890123456789012-1234567890123456-01";

    fn extract_from(headers: &[(&str, &str)]) -> Result<Option<SpanContext>, PropagationError> {
        extract(headers)
    }

    fn trace_id_of(traceparent: &str) -> Option<String> {
        extract_from(&[("traceparent", traceparent)])
            .ok()
            .flatten()
            .map(|context| context.trace_id.to_string())
    }

    #[test]
    fn reads_the_specification_examples() {
        let context = extract_from(&[(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )])
        .unwrap()
        .unwrap();
        assert_eq!(context.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(context.sampled, Some(true));
        assert!(!context.random_trace_id);
        assert_eq!(context.trace_state, "");

        let context = extract_from(&[
            ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
            ("tracestate", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(context.sampled, Some(false));
        assert_eq!(context.trace_state, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert!(context.datadog.is_empty());
    }

    #[test]
    fn traceparent_cases_of_the_w3c_test_suite() {
        const ID: &str = "12345678901234567890123456789012";
        // Accepted, keeping the trace id.
        for value in [
            VALID,
            "cc-12345678901234567890123456789012-1234567890123456-01",
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            " 00-12345678901234567890123456789012-1234567890123456-01",
            "\t00-12345678901234567890123456789012-1234567890123456-01",
            "00-12345678901234567890123456789012-1234567890123456-01 ",
            "00-12345678901234567890123456789012-1234567890123456-01\t",
            "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
        ] {
            assert_eq!(trace_id_of(value).as_deref(), Some(ID), "{value:?}");
        }
        // Rejected: the receiver restarts the trace.
        for value in [
            "00-12345678901234567890123456789012-1234567890123456-01.",
            "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
            "ff-12345678901234567890123456789012-1234567890123456-01",
            ".0-12345678901234567890123456789012-1234567890123456-01",
            "0.-12345678901234567890123456789012-1234567890123456-01",
            "000-12345678901234567890123456789012-1234567890123456-01",
            "0000-12345678901234567890123456789012-1234567890123456-01",
            "0-12345678901234567890123456789012-1234567890123456-01",
            "00-00000000000000000000000000000000-1234567890123456-01",
            "00-.2345678901234567890123456789012-1234567890123456-01",
            "00-1234567890123456789012345678901.-1234567890123456-01",
            "00-123456789012345678901234567890123-1234567890123456-01",
            "00-1234567890123456789012345678901-1234567890123456-01",
            "00-12345678901234567890123456789012-0000000000000000-01",
            "00-12345678901234567890123456789012-.234567890123456-01",
            "00-12345678901234567890123456789012-123456789012345.-01",
            "00-12345678901234567890123456789012-12345678901234567-01",
            "00-12345678901234567890123456789012-123456789012345-01",
            "00-12345678901234567890123456789012-1234567890123456-.0",
            "00-12345678901234567890123456789012-1234567890123456-0.",
            "00-12345678901234567890123456789012-1234567890123456-001",
            "00-12345678901234567890123456789012-1234567890123456-1",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
            "",
        ] {
            assert!(extract_from(&[("traceparent", value)]).is_err(), "{value:?}");
        }
    }

    #[test]
    fn header_names_are_read_in_any_case_and_only_by_their_name() {
        for name in ["TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
            assert!(extract_from(&[(name, VALID)]).unwrap().is_some(), "{name}");
        }
        for name in ["trace-parent", "trace.parent"] {
            assert_eq!(extract_from(&[(name, VALID)]), Ok(None), "{name}");
        }
        let context = extract_from(&[("traceparent", VALID), ("TrAcEsTaTe", "foo=1")]).unwrap();
        assert_eq!(context.unwrap().trace_state, "foo=1");
        let context = extract_from(&[("traceparent", VALID), ("trace-state", "foo=1")]).unwrap();
        assert_eq!(context.unwrap().trace_state, "");
    }

    #[test]
    fn a_repeated_traceparent_is_an_error() {
        let headers = [
            ("traceparent", "00-12345678901234567890123456789011-1234567890123456-01"),
            ("traceparent", "00-12345678901234567890123456789012-1234567890123456-01"),
        ];
        assert_eq!(
            extract_from(&headers).unwrap_err().to_string(),
            "traceparent header appears 2 times, expected once"
        );
    }

    #[test]
    fn error_messages_say_what_is_wrong() {
        let message =
            |value: &str| extract_from(&[("traceparent", value)]).unwrap_err().to_string();
        assert_eq!(
            message("ff-12345678901234567890123456789012-1234567890123456-01"),
            "traceparent header: version ff is invalid"
        );
        assert_eq!(message("00-1234"), "traceparent header: has 7 characters, expected 55");
        assert_eq!(
            message("00-00000000000000000000000000000000-1234567890123456-01"),
            "traceparent header: trace id is all zeros"
        );
        assert_eq!(
            message("00-12345678901234567890123456789012-0000000000000000-01"),
            "traceparent header: parent id is all zeros"
        );
        assert_eq!(
            message("0x-12345678901234567890123456789012-1234567890123456-01"),
            "traceparent header: \"0x-12345678901234567890123456789012-1234567890123456-01\" does \
             not start with a version of 2 lowercase hex digits and '-'"
        );
        assert_eq!(
            message(&format!("{VALID}-x")),
            "traceparent header: has 57 characters, version 00 has 55"
        );
    }

    #[test]
    fn flags_give_sampled_and_random_and_nothing_else() {
        let flags = |value: &str| {
            let context = extract_from(&[(
                "traceparent",
                &format!("00-12345678901234567890123456789012-1234567890123456-{value}"),
            )])
            .unwrap()
            .unwrap();
            (context.sampled, context.random_trace_id)
        };
        assert_eq!(flags("00"), (Some(false), false));
        assert_eq!(flags("01"), (Some(true), false));
        assert_eq!(flags("02"), (Some(false), true));
        assert_eq!(flags("03"), (Some(true), true));
        assert_eq!(flags("09"), (Some(true), false));
        assert_eq!(flags("fc"), (Some(false), false));
    }

    #[test]
    fn tracestate_needs_a_valid_traceparent_and_an_invalid_one_is_dropped_quietly() {
        assert_eq!(extract_from(&[("tracestate", "foo=1")]), Ok(None));
        assert!(extract_from(&[("traceparent", "00-xyz"), ("tracestate", "foo=1")]).is_err());
        let context = extract_from(&[("traceparent", VALID), ("tracestate", "foo=1,foo=2")]);
        assert_eq!(context.unwrap().unwrap().trace_state, "");
        let context = extract_from(&[
            ("traceparent", VALID),
            ("tracestate", "foo=1"),
            ("tracestate", ""),
            ("tracestate", "bar=2 "),
        ]);
        assert_eq!(context.unwrap().unwrap().trace_state, "foo=1,bar=2");
    }

    #[test]
    fn reads_the_datadog_member_as_dd_trace_go_tests_do() {
        let context = extract_from(&[
            ("traceparent", "00-00000000000000001111111111111111-2222222222222222-01"),
            ("tracestate", "dd=s:2;o:rum;t.dm:-4;t.usr.id:baz64~~,othervendor=t61rcWkgMzE"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(context.trace_id.low(), 1_229_782_938_247_303_441);
        assert_eq!(context.span_id.get(), 2_459_565_876_494_606_882);
        assert_eq!(context.datadog.sampling_priority, Some(2));
        assert_eq!(context.datadog.origin.as_deref(), Some("rum"));
        assert_eq!(context.datadog.tag("_dd.p.dm"), Some("-4"));
        assert_eq!(context.datadog.tag("_dd.p.usr.id"), Some("baz64=="));
        assert_eq!(context.trace_state, "othervendor=t61rcWkgMzE", "dd is read, not kept");
        assert_eq!(context.datadog_sampling_priority(), Some(2));
    }

    #[test]
    fn writes_version_00_with_datadog_first() {
        let mut context = extract_from(&[
            ("traceparent", "cc-12345678901234567890123456789012-1234567890123456-ff-future"),
            ("tracestate", "foo=1,dd=s:2;o:rum,bar=2"),
        ])
        .unwrap()
        .unwrap();
        let mut headers = Vec::new();
        inject(&context, &mut headers);
        assert_eq!(
            headers.header(TRACEPARENT),
            Some("00-12345678901234567890123456789012-1234567890123456-03")
        );
        assert_eq!(
            headers.header(TRACESTATE),
            Some("dd=s:2;o:rum;t.tid:1234567890123456,foo=1,bar=2")
        );

        context.sampled = None;
        context.random_trace_id = false;
        context.datadog = Default::default();
        context.trace_state = Str::default();
        let mut headers = Vec::new();
        inject(&context, &mut headers);
        assert_eq!(
            headers.header(TRACEPARENT),
            Some("00-12345678901234567890123456789012-1234567890123456-00")
        );
        assert_eq!(headers.header(TRACESTATE), None, "an empty tracestate is not sent");
    }
}
