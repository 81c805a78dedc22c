//! Tests across formats: what real tracers sent and read, round trips, hostile input.

mod property;
mod real_tracers;

use kiseki_model::{SpanId, Str, TraceId};

use super::*;

fn extracted(format: Format, headers: &[(&str, &str)]) -> SpanContext {
    format.extract(headers).unwrap().unwrap()
}

fn injected(format: Format, context: &SpanContext) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    format.inject(context, &mut headers);
    headers
}

#[test]
fn format_names_are_the_ones_tracers_are_configured_with() {
    for format in Format::ALL {
        assert_eq!(Format::from_name(format.name()), Some(format));
    }
    assert_eq!(Format::from_name("B3"), Some(Format::B3Single));
    assert_eq!(Format::from_name("b3 single header"), Some(Format::B3Single));
    assert_eq!(Format::from_name(" tracecontext "), Some(Format::TraceContext));
    assert_eq!(Format::from_name("jaeger"), None);
}

#[test]
fn extract_any_prefers_w3c_then_b3_single_then_b3_multi_then_datadog() {
    let w3c = ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    let single = ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
    let multi = [("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "a2fb4a1d1a96d312")];
    let datadog = [("x-datadog-trace-id", "1"), ("x-datadog-parent-id", "2")];
    let trace_of =
        |headers: &[(&str, &str)]| extract_any(headers).unwrap().unwrap().trace_id.to_string();
    let mut headers = vec![w3c, single, multi[0], multi[1], datadog[0], datadog[1]];
    assert_eq!(trace_of(&headers), "0af7651916cd43dd8448eb211c80319c");
    headers.remove(0);
    assert_eq!(trace_of(&headers), "80f198ee56343ba864fe8b2a57d3eff7");
    headers.remove(0);
    assert_eq!(trace_of(&headers), "0000000000000000463ac35c9f6413ad");
    headers.drain(..2);
    assert_eq!(trace_of(&headers), "00000000000000000000000000000001");
    assert_eq!(extract_any(&[("host", "example")]), Ok(None));
}

#[test]
fn extract_any_skips_a_malformed_format_and_reports_it_when_nothing_else_is_there() {
    let broken = ("traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01");
    let datadog = [("x-datadog-trace-id", "1"), ("x-datadog-parent-id", "2")];
    let context = extract_any(&[broken, datadog[0], datadog[1]]).unwrap().unwrap();
    assert_eq!(context.trace_id, TraceId::new(1).unwrap());
    assert_eq!(
        extract_any(&[broken, ("b3", "zzz")]).unwrap_err().to_string(),
        "traceparent header: trace id is all zeros"
    );
    assert_eq!(extract_any(&[("b3", "0")]), Ok(None), "a sampling decision is no context");
    assert_eq!(b3::extract_sampling_only(&[("b3", "0")]), Ok(Some(SamplingDecision::Deny)));
}

#[test]
fn a_b3_single_header_hides_the_multiple_headers_unless_it_is_malformed() {
    let multi = [("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "a2fb4a1d1a96d312")];
    let with = |b3: &'static str| vec![("b3", b3), multi[0], multi[1]];
    assert_eq!(extract_any(&with("0")), Ok(None));
    assert_eq!(b3::extract_sampling_only(&with("0")), Ok(Some(SamplingDecision::Deny)));
    let context = extract_any(&with("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1")).unwrap();
    assert_eq!(context.unwrap().span_id.to_string(), "e457b5a2e4d86bd1");
    let context = extract_any(&with("garbage")).unwrap();
    assert_eq!(context.unwrap().span_id.to_string(), "a2fb4a1d1a96d312");
}

#[test]
fn extract_any_completes_w3c_with_the_datadog_headers_of_the_same_trace() {
    // An OpenTelemetry proxy between two Datadog services: it wrote its own traceparent and
    // forwarded the Datadog headers and a tracestate without a dd member.
    let headers = [
        ("traceparent", "00-6b023b3e0000000049baab61d030ddf8-1111111111111111-01"),
        ("tracestate", "otelproxy=1"),
        ("x-datadog-trace-id", "5312747147029962232"),
        ("x-datadog-parent-id", "3085843876568743659"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-origin", "synthetics"),
        ("x-datadog-tags", "_dd.p.dm=-4,_dd.p.tid=6b023b3e00000000"),
    ];
    let context = extract_any(&headers).unwrap().unwrap();
    assert_eq!(context.span_id, SpanId::new(0x1111_1111_1111_1111).unwrap(), "w3c wins");
    assert_eq!(context.datadog.sampling_priority, Some(2));
    assert_eq!(context.datadog.origin.as_deref(), Some("synthetics"));
    assert_eq!(context.datadog.tag("_dd.p.dm"), Some("-4"));
    assert_eq!(context.datadog.last_parent_id, SpanId::new(3_085_843_876_568_743_659));
    assert_eq!(context.trace_state, "otelproxy=1");

    // A disagreeing priority is not taken, and another trace's headers are ignored.
    let mut unsampled = headers;
    unsampled[0].1 = "00-6b023b3e0000000049baab61d030ddf8-1111111111111111-00";
    let context = extract_any(&unsampled).unwrap().unwrap();
    assert_eq!(context.datadog.sampling_priority, None);
    assert_eq!(context.datadog_sampling_priority(), Some(0));
    let mut other_trace = headers;
    other_trace[2].1 = "42";
    assert!(extract_any(&other_trace).unwrap().unwrap().datadog.is_empty());
}

#[test]
fn inject_all_writes_every_chosen_format_and_they_read_back_the_same_ids() {
    let mut context = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
    );
    context.sampled = Some(true);
    let mut headers = Vec::new();
    inject_all(&context, &Format::ALL, &mut headers);
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "traceparent",
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-sampled",
            "x-datadog-trace-id",
            "x-datadog-parent-id",
            "x-datadog-sampling-priority",
            "x-datadog-tags"
        ]
    );
    for format in Format::ALL {
        let read = format.extract(&headers).unwrap().unwrap();
        assert_eq!(
            (read.trace_id, read.span_id, read.sampled),
            (context.trace_id, context.span_id, Some(true)),
            "{format:?}"
        );
    }
    let mut only_b3 = Vec::new();
    inject_all(&context, &[Format::B3Single], &mut only_b3);
    assert_eq!(only_b3.len(), 1);
}

#[test]
fn a_context_crosses_formats_keeping_what_each_one_carries() {
    // Datadog headers → W3C → Datadog: priority, origin, tags and the 128-bit id survive.
    let datadog = extracted(
        Format::Datadog,
        &[
            ("x-datadog-trace-id", "5312747147029962232"),
            ("x-datadog-parent-id", "3085843876568743659"),
            ("x-datadog-sampling-priority", "-1"),
            ("x-datadog-origin", "rum"),
            ("x-datadog-tags", "_dd.p.dm=-4,_dd.p.usr.id=YmF6NjQ=,_dd.p.tid=6b023b3e00000000"),
        ],
    );
    let w3c = injected(Format::TraceContext, &datadog);
    assert_eq!(
        w3c,
        [
            (
                "traceparent".to_owned(),
                "00-6b023b3e0000000049baab61d030ddf8-2ad31ea7ff31beeb-00".to_owned()
            ),
            (
                "tracestate".to_owned(),
                "dd=s:-1;o:rum;t.tid:6b023b3e00000000;t.dm:-4;t.usr.id:YmF6NjQ~".to_owned()
            ),
        ]
    );
    let back = Format::TraceContext.extract(&w3c).unwrap().unwrap();
    assert_eq!(back, datadog);

    // B3 debug → Datadog: user keep, as Datadog tracers read B3 debug.
    let b3 = extracted(
        Format::B3Single,
        &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")],
    );
    let headers = injected(Format::Datadog, &b3);
    assert_eq!(headers.header("x-datadog-sampling-priority"), Some("2"));
    assert_eq!(headers.header("x-datadog-tags"), Some("_dd.p.tid=80f198ee56343ba8"));
    assert_eq!(headers.header("x-datadog-trace-id"), Some("7277407061855694839"));
    assert_eq!(extracted(Format::Datadog, &as_refs(&headers)).trace_id, b3.trace_id);

    // B3 deferred → W3C: not sampled (the flag has no "deferred"); no tracestate.
    let deferred =
        extracted(Format::B3Single, &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1")]);
    assert_eq!(
        injected(Format::TraceContext, &deferred),
        [(
            "traceparent".to_owned(),
            "00-80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-00".to_owned()
        )]
    );
}

#[test]
fn hostile_header_values_are_errors_not_panics() {
    let huge = "9".repeat(1 << 20);
    let zeros = "0".repeat(1 << 16);
    let values: [&str; 12] = [
        "",
        "-",
        "--------",
        &huge,
        &zeros,
        "\u{0}\u{1}\u{7f}",
        "ü-ü-ü-ü",
        "00-\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}-0000000000000001-01",
        "dd=s:99999999999999999999;p:\u{e9};t.tid:,x=1",
        "_dd.p.tid==,=,==",
        ",,,,=,,,",
        "\r\n",
    ];
    let names = HEADER_NAMES;
    for value in values {
        for name in names {
            let headers = [(name, value)];
            for format in Format::ALL {
                if let Err(error) = format.extract(&headers) {
                    assert_eq!(error.header(), error.header().to_lowercase());
                    assert!(error.to_string().len() < 400, "messages stay short: {error}");
                }
            }
            let _ = extract_any(&headers);
            let _ = b3::extract_sampling_only(&headers);
        }
    }
}

#[test]
fn injected_values_stay_valid_header_text_whatever_the_context_holds() {
    let mut context =
        SpanContext::new(TraceId::new(u128::MAX).unwrap(), SpanId::new(u64::MAX).unwrap());
    context.datadog.origin = Some(Str::from("ori\r\ngin\u{e9}"));
    context.datadog.tags =
        vec![(Str::from("_dd.p.x"), Str::from("a\nb")), (Str::from("_dd.p.y"), Str::from("ok"))];
    context.trace_state = Str::from("Bad Key=1,good=2,evil=\n");
    let mut headers = Vec::new();
    inject_all(&context, &Format::ALL, &mut headers);
    for (name, value) in &headers {
        assert!(value.bytes().all(|b| matches!(b, 0x20..=0x7e)), "{name}: {value:?}");
    }
    assert_eq!(headers.header("x-datadog-origin"), Some("ori__gin_"));
    assert_eq!(headers.header("x-datadog-tags"), Some("_dd.p.tid=ffffffffffffffff,_dd.p.y=ok"));
    assert_eq!(
        headers.header("tracestate"),
        Some("dd=o:ori__gin_;t.tid:ffffffffffffffff;t.x:a_b;t.y:ok,good=2")
    );
}

fn as_refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect()
}
