//! The Datadog trace API, v0.4 (msgpack and JSON) and v0.5: hostile values.

use kiseki_codec::datadog::DdSpanEvent;

use super::*;

/// Arrays nested `depth` deep around an integer.
fn nested_value(depth: usize) -> AnyValue {
    let mut value = AnyValue::Int(1);
    for _ in 0..depth {
        value = AnyValue::Array(vec![value]);
    }
    value
}

#[tokio::test]
async fn datadog_refuses_hostile_values_naming_them() {
    let mut abuse = Abuse::new();
    let limit = MAX_ATTRIBUTES.to_string();
    let v04 = |span: DdSpan| datadog::write_v04(&[dd_chunk(vec![span])]);
    let v05 = |span: DdSpan| datadog::write_v05(&[dd_chunk(vec![span])]);
    let wide = DdSpan {
        meta: (0..=MAX_ATTRIBUTES).map(|i| (format!("k{i}").into(), "v".into())).collect(),
        ..dd_span()
    };
    let deep = DdSpan {
        span_events: vec![DdSpanEvent {
            time_unix_nano: START,
            name: "deep".into(),
            attributes: vec![("deep".into(), nested_value(MAX_VALUE_DEPTH + 8))],
        }],
        ..dd_span()
    };
    let zero_trace = DdSpan { trace_id: 0, meta: Vec::new(), ..dd_span() };
    let zero_span = DdSpan { span_id: 0, ..dd_span() };
    let marked = DdSpan { name: MARKED_NAME.into(), ..dd_span() };
    abuse
        .refuse_all(vec![
            hostile(
                "v0.4: too many meta",
                DATADOG_V04,
                v04(wide.clone()),
                LIMIT_EXCEEDED,
                &[&limit],
            ),
            hostile("v0.5: too many meta", DATADOG_V05, v05(wide), LIMIT_EXCEEDED, &[&limit]),
            hostile(
                "v0.4: nested too deep",
                DATADOG_V04,
                v04(deep),
                LIMIT_EXCEEDED,
                &["nest deeper"],
            ),
            hostile(
                "v0.4: zero trace id",
                DATADOG_V04,
                v04(zero_trace.clone()),
                MALFORMED,
                &["trace_id is zero"],
            ),
            hostile(
                "v0.5: zero trace id",
                DATADOG_V05,
                v05(zero_trace),
                MALFORMED,
                &["trace_id is zero"],
            ),
            hostile(
                "v0.4: zero span id",
                DATADOG_V04,
                v04(zero_span.clone()),
                MALFORMED,
                &["span_id is zero"],
            ),
            hostile(
                "v0.5: zero span id",
                DATADOG_V05,
                v05(zero_span),
                MALFORMED,
                &["span_id is zero"],
            ),
            hostile(
                "v0.4 json: zero span id",
                DATADOG_V04_JSON,
                dd_json(0),
                MALFORMED,
                &["span_id is zero"],
            ),
            hostile(
                "v0.4: invalid UTF-8",
                DATADOG_V04,
                invalid_utf8(&v04(marked.clone())),
                MALFORMED,
                &["UTF-8"],
            ),
            hostile(
                "v0.5: invalid UTF-8",
                DATADOG_V05,
                invalid_utf8(&v05(marked)),
                MALFORMED,
                &["UTF-8"],
            ),
        ])
        .await;
    abuse.assert_still_serves().await;
}
