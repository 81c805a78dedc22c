//! Property tests: every format reads back what it wrote, limited to what it carries; no header
//! text makes anything panic; whatever a context holds, what is written reads back.

use std::collections::BTreeMap;

use kiseki_model::{SpanId, Str, TraceId};
use proptest::prelude::*;
use proptest::string::string_regex;

use super::super::*;

fn regex(pattern: &str) -> impl Strategy<Value = String> + use<> {
    string_regex(pattern).unwrap()
}

fn trace_ids() -> impl Strategy<Value = TraceId> {
    prop_oneof![1..=u128::from(u64::MAX), 1..=u128::MAX].prop_map(|id| TraceId::new(id).unwrap())
}

fn span_ids() -> impl Strategy<Value = SpanId> {
    (1..=u64::MAX).prop_map(|id| SpanId::new(id).unwrap())
}

/// Other vendors' `tracestate` members: valid, unique keys, never `dd`, at most 31.
fn trace_states() -> impl Strategy<Value = Str> {
    let key = regex("[a-z0-9][a-z0-9_*/@-]{0,12}");
    let value =
        regex("[\\x20-\\x2b\\x2d-\\x3c\\x3e-\\x7e]{0,12}[\\x21-\\x2b\\x2d-\\x3c\\x3e-\\x7e]");
    proptest::collection::btree_map(key, value, 0..31).prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .filter(|(key, _)| key != "dd")
            .map(|(key, value)| format!("{key}={value}"))
            .collect();
        Str::from(members.join(","))
    })
}

/// Datadog information both Datadog headers and the `dd` member can carry exactly.
fn datadog_contexts() -> impl Strategy<Value = DatadogContext> {
    let priority = prop_oneof![Just(None), (-1..=2).prop_map(Some), any::<i32>().prop_map(Some)];
    let origin = proptest::option::of(regex("[a-z][a-z0-9=_.-]{0,11}").prop_map(Str::from));
    let tag_key = regex("[a-z][a-z0-9.]{0,8}")
        .prop_filter("reserved", |k| !matches!(k.as_str(), "dm" | "tid" | "upstream_services"));
    let tags = proptest::collection::btree_map(tag_key, regex("[a-zA-Z0-9=+/_-]{1,10}"), 0..4);
    let decision_maker = proptest::option::of((0..20u8).prop_map(|m| format!("-{m}")));
    (priority, origin, tags, decision_maker, proptest::option::of(span_ids())).prop_map(
        |(sampling_priority, origin, tags, decision_maker, last_parent_id)| {
            let mut tags: Vec<(Str, Str)> = tags
                .into_iter()
                .map(|(k, v)| (Str::from(format!("_dd.p.{k}")), Str::from(v)))
                .collect();
            if let Some(decision_maker) = decision_maker {
                tags.insert(0, (Str::from("_dd.p.dm"), Str::from(decision_maker)));
            }
            DatadogContext { sampling_priority, origin, tags, last_parent_id }
        },
    )
}

prop_compose! {
    fn contexts()(
        trace_id in trace_ids(),
        span_id in span_ids(),
        parent_span_id in proptest::option::of(span_ids()),
        sampled in proptest::option::of(any::<bool>()),
        debug in any::<bool>(),
        random_trace_id in any::<bool>(),
        trace_state in trace_states(),
        datadog in datadog_contexts(),
    ) -> SpanContext {
        SpanContext {
            trace_id, span_id, parent_span_id, sampled, debug, random_trace_id, trace_state, datadog,
        }
    }
}

/// What `format` can carry of `context`: the context its extractor should give back.
fn carried(format: Format, context: &SpanContext) -> SpanContext {
    let mut expected = SpanContext::new(context.trace_id, context.span_id);
    match format {
        Format::B3Single | Format::B3Multi => {
            expected.parent_span_id = context.parent_span_id;
            expected.sampled = context.is_sampled();
            expected.debug = context.debug;
        }
        Format::TraceContext => {
            let flag = context.is_sampled() == Some(true);
            expected.sampled = Some(flag);
            expected.random_trace_id = context.random_trace_id;
            expected.trace_state = context.trace_state.clone();
            if !context.datadog.is_empty() {
                expected.datadog = context.datadog.clone();
                // The priority written, then reconciled with the flag by the reader.
                expected.datadog.sampling_priority = context
                    .datadog_sampling_priority()
                    .map(|p| if (p > 0) == flag { p } else { i32::from(flag) });
            }
        }
        Format::Datadog => {
            let priority = context.datadog_sampling_priority();
            expected.sampled = priority.map(|p| p > 0);
            expected.datadog = DatadogContext {
                sampling_priority: priority,
                origin: context.datadog.origin.clone(),
                tags: context.datadog.tags.clone(),
                last_parent_id: None,
            };
        }
    }
    expected
}

fn headers_strategy() -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let value = prop_oneof![
        any::<String>(),
        regex("[0-9a-fA-F-]{0,70}"),
        regex("[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-[a-z]{0,3})?"),
        regex("([a-z0-9@]{1,4}=[ -~]{0,6},?){0,5}"),
        regex("[0-9]{1,21}"),
        regex("(_dd\\.p\\.[a-z]{1,4}=[ -~]{0,8},?){0,4}"),
        regex("dd=([sopt.a-z]{1,4}:[ -~]{0,6};?){0,4}"),
    ];
    proptest::collection::vec((proptest::sample::select(&HEADER_NAMES[..]), value), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn each_format_reads_back_what_it_wrote(context in contexts()) {
        for format in Format::ALL {
            let mut headers = Vec::new();
            format.inject(&context, &mut headers);
            let read = format.extract(&headers).unwrap().unwrap();
            prop_assert_eq!(read, carried(format, &context), "{:?} wrote {:?}", format, headers);
        }
    }

    #[test]
    fn writing_every_format_then_reading_any_gives_the_w3c_context(context in contexts()) {
        let mut headers = Vec::new();
        inject_all(&context, &Format::ALL, &mut headers);
        let read = extract_any(&headers).unwrap().unwrap();
        let mut expected = carried(Format::TraceContext, &context);
        if context.datadog.is_empty() {
            // No dd member: the priority comes from the Datadog headers of the same trace.
            expected.datadog.sampling_priority = context.datadog_sampling_priority();
        }
        prop_assert_eq!(read, expected);
    }

    #[test]
    fn sampling_only_decisions_read_back(decision in prop_oneof![
        Just(SamplingDecision::Deny), Just(SamplingDecision::Accept), Just(SamplingDecision::Debug)
    ]) {
        let mut single = Vec::new();
        b3::single::inject_sampling_only(decision, &mut single);
        prop_assert_eq!(b3::extract_sampling_only(&single), Ok(Some(decision)));
        prop_assert_eq!(extract_any(&single), Ok(None));
        let mut multi = Vec::new();
        b3::multi::inject_sampling_only(decision, &mut multi);
        prop_assert_eq!(b3::extract_sampling_only(&multi), Ok(Some(decision)));
    }

    #[test]
    fn arbitrary_header_text_never_panics_and_what_is_read_writes_back(
        headers in headers_strategy()
    ) {
        for format in Format::ALL {
            if let Ok(Some(context)) = format.extract(&headers) {
                let mut again = Vec::new();
                format.inject(&context, &mut again);
                let reread = format.extract(&again).unwrap().unwrap();
                prop_assert_eq!(
                    (reread.trace_id, reread.span_id, reread.is_sampled()),
                    (context.trace_id, context.span_id, context.is_sampled())
                );
            }
        }
        let _ = extract_any(&headers);
        let _ = b3::extract_sampling_only(&headers);
    }

    #[test]
    fn whatever_a_context_holds_its_headers_are_printable_and_read_back(
        mut context in contexts(),
        origin in any::<String>(),
        tags in proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
        trace_state in any::<String>(),
    ) {
        context.datadog.origin = Some(Str::from(origin));
        context.datadog.tags.extend(tags.into_iter().map(|(k, v)| (Str::from(k), Str::from(v))));
        context.trace_state = Str::from(trace_state);
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        inject_all(&context, &Format::ALL, &mut headers);
        for (name, value) in &headers {
            prop_assert!(value.bytes().all(|b| matches!(b, 0x20..=0x7e)), "{}: {:?}", name, value);
            prop_assert!(!value.starts_with(' ') && !value.ends_with(' '), "{}: {:?}", name, value);
        }
        if let Some(tags) = headers.get("x-datadog-tags") {
            prop_assert!(tags.len() <= datadog::tags::MAX_HEADER_LENGTH);
        }
        for format in Format::ALL {
            let read = format.extract(&headers).unwrap().unwrap();
            prop_assert_eq!((read.trace_id, read.span_id), (context.trace_id, context.span_id));
        }
        let tracestate = headers.get("tracestate").map(String::as_str).unwrap_or_default();
        let members = tracestate::parse(&[tracestate]);
        prop_assert!(members.is_some_and(|m| m.len() <= tracestate::MAX_MEMBERS), "{:?}", tracestate);
    }
}
