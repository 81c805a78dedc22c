//! Headers real tracer libraries wrote, and what they read from kiseki's headers.
//!
//! The files under testdata/propagation/ come from interop/propagation.sh:
//! - `from-<tracer>.json`: headers each tracer injected for spans of its own, with the ids and
//!   sampling state its API reported;
//! - `to-tracers.json`: what kiseki injects for the contexts below (this test checks it is still
//!   what kiseki writes; `KISEKI_BLESS=1` rewrites it, after which the tracers must read it again);
//! - `read-by-<tracer>.json`: what each tracer extracted from `to-tracers.json`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::super::*;
use kiseki_model::{SpanId, Str, TraceId};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/propagation");
const FROM: [&str; 6] = [
    "ddtrace-py",
    "dd-trace-js",
    "opentelemetry-python",
    "opentelemetry-js",
    "py-zipkin",
    "zipkin-js",
];
const READ_BY: [&str; 6] = FROM;

fn load(name: &str) -> Value {
    let path = format!("{DIR}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn headers_of(case: &Value) -> Vec<(String, String)> {
    case["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect()
}

/// Whether the span the tracer described was sampled: its `sampled`, or a positive priority.
fn sampled_of(span: &Value) -> Option<bool> {
    span.get("sampled")
        .and_then(Value::as_bool)
        .or_else(|| span.get("sampling_priority").and_then(Value::as_i64).map(|p| p > 0))
}

#[test]
fn every_format_real_tracers_wrote_is_read_with_their_ids_and_sampling() {
    let mut checked = 0;
    for tracer in FROM {
        let document = load(&format!("from-{tracer}.json"));
        for case in document["cases"].as_array().unwrap() {
            let name = format!("{tracer} {}", case["name"]);
            let span = &case["span"];
            let trace_id = TraceId::from_hex(text(span, "trace_id").unwrap()).unwrap();
            let span_id = SpanId::from_hex(text(span, "span_id").unwrap()).unwrap();
            let headers = headers_of(case);
            let priority = span.get("sampling_priority").and_then(Value::as_i64);
            let origin = text(span, "origin");
            let tags: BTreeMap<&str, &str> = span
                .get("tags")
                .and_then(Value::as_object)
                .map(|tags| tags.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect())
                .unwrap_or_default();

            for format in Format::ALL {
                let Some(context) = format.extract(&headers).unwrap() else { continue };
                let what = format!("{name} {format:?}");
                assert_eq!(context.trace_id, trace_id, "{what}");
                assert_eq!(context.span_id, span_id, "{what}");
                assert_eq!(context.is_sampled(), sampled_of(span), "{what}");
                let reads_datadog = format == Format::Datadog
                    || (format == Format::TraceContext
                        && headers.header("tracestate").is_some_and(|ts| ts.starts_with("dd=")));
                if reads_datadog {
                    assert_eq!(
                        context.datadog.sampling_priority.map(i64::from),
                        priority,
                        "{what}"
                    );
                    assert_eq!(context.datadog.origin.as_deref(), origin, "{what}");
                    for (key, value) in &tags {
                        assert_eq!(context.datadog.tag(key), Some(*value), "{what} {key}");
                    }
                }
                match format {
                    Format::B3Single | Format::B3Multi => {
                        if let Some(debug) = span.get("debug").and_then(Value::as_bool) {
                            assert_eq!(context.debug, debug, "{what}");
                        }
                        if headers.iter().any(|(n, _)| n == "x-b3-parentspanid")
                            || format == Format::B3Single
                        {
                            let parent =
                                text(span, "parent_span_id").map(|p| SpanId::from_hex(p).unwrap());
                            let sent_parent = headers.header("x-b3-parentspanid").is_some()
                                || headers
                                    .header("b3")
                                    .is_some_and(|b3| b3.split('-').count() == 4);
                            if sent_parent {
                                assert_eq!(context.parent_span_id, parent, "{what}");
                            }
                        }
                    }
                    Format::TraceContext => {
                        // The other vendors' members stay, in order, without Datadog's.
                        let others: Vec<&str> = headers
                            .header("tracestate")
                            .unwrap_or_default()
                            .split(',')
                            .filter(|member| !member.is_empty() && !member.starts_with("dd="))
                            .collect();
                        assert_eq!(context.trace_state.as_str(), others.join(","), "{what}");
                        // Writing it back gives the tracer's own traceparent, flags included.
                        let mut again = Vec::new();
                        tracecontext::inject(&context, &mut again);
                        assert_eq!(
                            again.header("traceparent"),
                            headers.header("traceparent"),
                            "{what}"
                        );
                    }
                    Format::Datadog => {
                        let mut again = Vec::new();
                        datadog::inject(&context, &mut again);
                        for header in [
                            "x-datadog-trace-id",
                            "x-datadog-parent-id",
                            "x-datadog-sampling-priority",
                            "x-datadog-origin",
                        ] {
                            assert_eq!(
                                again.header(header),
                                headers.header(header),
                                "{what} {header}"
                            );
                        }
                        let set = |tags: Option<&str>| {
                            let mut tags: Vec<String> =
                                tags.unwrap_or_default().split(',').map(str::to_owned).collect();
                            tags.sort();
                            tags
                        };
                        assert_eq!(
                            set(again.header("x-datadog-tags")),
                            set(headers.header("x-datadog-tags")),
                            "{what}"
                        );
                    }
                }
                if format == Format::B3Single {
                    let mut again = Vec::new();
                    b3::single::inject(&context, &mut again);
                    assert_eq!(again.header("b3"), headers.header("b3"), "{what}");
                }
                checked += 1;
            }
            let any = extract_any(&headers).unwrap().unwrap();
            assert_eq!((any.trace_id, any.span_id), (trace_id, span_id), "{name}");
        }
    }
    assert!(checked >= 40, "only {checked} extractions checked");
}

/// The contexts kiseki injects in `to-tracers.json`, with every format.
fn kiseki_contexts() -> Vec<(&'static str, &'static str, SpanContext)> {
    let ids = |trace: &str, span: &str| {
        SpanContext::new(TraceId::from_hex(trace).unwrap(), SpanId::from_hex(span).unwrap())
    };
    let mut sampled = ids("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    sampled.parent_span_id = SpanId::new(0x0020_0000_0000_0001);
    sampled.sampled = Some(true);
    sampled.random_trace_id = true;

    let mut not_sampled = ids("463ac35c9f6413ad", "a2fb4a1d1a96d312");
    not_sampled.sampled = Some(false);

    let deferred = ids("80f198ee56343ba864fe8b2a57d3eff7", "e457b5a2e4d86bd1");

    let mut debug = ids("5dc2c1c8674661f9b179816011efeaee", "3048560261bd3527");
    debug.parent_span_id = SpanId::new(0xb179_8160_11ef_eaee);
    debug.sampled = Some(true);
    debug.debug = true;

    let mut user_keep = ids("6b023b3e0000000049baab61d030ddf8", "2ad31ea7ff31beeb");
    user_keep.sampled = Some(true);
    user_keep.trace_state = Str::from("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    user_keep.datadog = DatadogContext {
        sampling_priority: Some(2),
        origin: Some(Str::from("synthetics")),
        tags: vec![
            (Str::from("_dd.p.dm"), Str::from("-4")),
            (Str::from("_dd.p.usr.id"), Str::from("YmF6NjQ=")),
        ],
        last_parent_id: SpanId::new(0x1111_2222_3333_4444),
    };

    let mut user_reject = ids("0000000000000000563e132fbc9de020", "fe0766126dc74ca3");
    user_reject.sampled = Some(false);
    user_reject.datadog.sampling_priority = Some(-1);
    user_reject.datadog.tags = vec![(Str::from("_dd.p.dm"), Str::from("-4"))];

    vec![
        ("sampled-128-bit", "sampled, a B3 parent, the W3C random flag", sampled),
        ("not-sampled-64-bit", "not sampled, a 64-bit trace id", not_sampled),
        ("sampling-deferred", "no sampling decision", deferred),
        ("debug", "B3 debug", debug),
        (
            "datadog-user-keep",
            "Datadog user keep with origin, tags, last parent and other vendors' tracestate",
            user_keep,
        ),
        ("datadog-user-reject", "Datadog user reject, 64-bit trace id", user_reject),
    ]
}

fn kiseki_document() -> Value {
    let cases: Vec<Value> = kiseki_contexts()
        .into_iter()
        .map(|(name, description, context)| {
            let mut headers = BTreeMap::new();
            inject_all(&context, &Format::ALL, &mut headers);
            json!({"name": name, "description": description, "headers": headers})
        })
        .collect();
    json!({
        "about": "headers kiseki injects in every format; written by KISEKI_BLESS=1 cargo test -p kiseki-codec propagation, read by interop/propagation.sh read",
        "cases": cases,
    })
}

#[test]
fn kiseki_writes_the_headers_real_tracers_were_shown() {
    let path = format!("{DIR}/to-tracers.json");
    let expected = kiseki_document();
    if std::env::var_os("KISEKI_BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&expected).unwrap() + "\n").unwrap();
    }
    assert_eq!(
        load("to-tracers.json"),
        expected,
        "kiseki now injects other headers: rewrite to-tracers.json with KISEKI_BLESS=1 and run \
         interop/propagation.sh read"
    );
}

#[test]
fn real_tracers_read_kiseki_headers_as_kiseki_meant_them() {
    let contexts = kiseki_contexts();
    let mut checked = 0;
    for tracer in READ_BY {
        let document = load(&format!("read-by-{tracer}.json"));
        for case in document["cases"].as_array().unwrap() {
            let (_, _, context) = contexts
                .iter()
                .find(|(name, _, _)| case["name"] == *name)
                .unwrap_or_else(|| panic!("{tracer}: unknown case {}", case["name"]));
            for (style, read) in case["read"].as_object().unwrap() {
                let what = format!("{tracer} {} {style}", case["name"]);
                check_read(&what, style, context, read);
                checked += 1;
            }
        }
    }
    assert!(checked >= 60, "only {checked} readings checked");
}

fn check_read(what: &str, style: &str, context: &SpanContext, read: &Value) {
    assert!(read.is_object(), "{what}: the tracer read no context: {read}");
    assert_eq!(text(read, "trace_id"), Some(context.trace_id.to_string().as_str()), "{what}");
    assert_eq!(text(read, "span_id"), Some(context.span_id.to_string().as_str()), "{what}");
    let w3c = style == "tracecontext";
    let datadog_style = style == "datadog" || style == "all";
    let writes_dd_member = !context.datadog.is_empty();

    if let Some(sampled) = read.get("sampled") {
        match context.is_sampled() {
            None if w3c => assert_eq!(sampled.as_bool(), Some(false), "{what} sampled"),
            None => {}
            expected => assert_eq!(sampled.as_bool(), expected, "{what} sampled"),
        }
    }
    if let Some(debug) = read.get("debug") {
        assert_eq!(debug.as_bool(), Some(context.debug), "{what} debug");
    }
    if let Some(parent) = read.get("parent_span_id") {
        let expected = context.parent_span_id.map(|p| p.to_string());
        assert_eq!(parent.as_str(), expected.as_deref(), "{what} parent");
    }
    // A deferred decision is the reader's to make (dd-trace-js takes the traceparent flag that
    // travels beside the Datadog headers), except that W3C cannot defer.
    let deferred = context.is_sampled().is_none() && !w3c;
    if let (Some(priority), false) = (read.get("sampling_priority"), deferred) {
        let expected = if datadog_style || (w3c && writes_dd_member) {
            context.datadog_sampling_priority()
        } else if w3c {
            Some(i32::from(context.is_sampled() == Some(true)))
        } else {
            // Datadog tracers read B3 debug as user keep.
            context.is_sampled().map(|sampled| if context.debug { 2 } else { i32::from(sampled) })
        };
        assert_eq!(priority.as_i64(), expected.map(i64::from), "{what} priority");
    }
    if datadog_style || (w3c && writes_dd_member) {
        if let Some(origin) = read.get("origin") {
            assert_eq!(origin.as_str(), context.datadog.origin.as_deref(), "{what} origin");
        }
        if let Some(tags) = read.get("tags") {
            for (key, value) in &context.datadog.tags {
                assert_eq!(tags[key.as_str()].as_str(), Some(value.as_str()), "{what} {key}");
            }
            if context.trace_id.high() != 0 {
                let high = format!("{:016x}", context.trace_id.high());
                assert_eq!(tags["_dd.p.tid"].as_str(), Some(high.as_str()), "{what} tid");
            }
        }
        if let (Some(last), Some(expected), true) =
            (read.get("last_parent_id"), context.datadog.last_parent_id, w3c)
        {
            assert_eq!(last.as_str(), Some(expected.to_string().as_str()), "{what} p");
        }
    }
    if w3c && let Some(tracestate) = read.get("tracestate") {
        for member in context.trace_state.split(',').filter(|member| !member.is_empty()) {
            assert!(
                tracestate.as_str().is_some_and(|ts| ts.split(',').any(|m| m == member)),
                "{what} {member} in {tracestate}"
            );
        }
    }
}
