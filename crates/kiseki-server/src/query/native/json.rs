//! The JSON shapes of the native API (see `openapi.json`): camelCase names, Unix nanoseconds as
//! decimal strings (they exceed 2^53), durations and offsets in nanoseconds as numbers, ids as
//! lowercase hex, attributes with their type beside their value.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kiseki_model::{AnyValue, Attributes, Event, Link, Span, StatusCode};
use kiseki_store::{Operation, TraceSummary};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use crate::query::adjust::Adjustment;

/// The largest integer a JSON reader using doubles (a browser) reads exactly: 2^53 − 1.
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize)]
pub struct ErrorDetail<'a> {
    pub status: u16,
    pub message: &'a str,
}

#[derive(Serialize)]
pub struct ServicesBody {
    pub services: Vec<ServiceJson>,
}

#[derive(Serialize)]
pub struct ServiceJson {
    pub name: String,
    pub operations: Vec<OperationJson>,
}

#[derive(Serialize)]
pub struct OperationsBody {
    pub operations: Vec<OperationJson>,
}

#[derive(Serialize)]
pub struct OperationJson {
    pub name: String,
    pub kind: &'static str,
}

impl From<Operation> for OperationJson {
    fn from(operation: Operation) -> Self {
        Self { name: operation.name, kind: operation.kind.as_str() }
    }
}

#[derive(Serialize)]
pub struct KeysBody {
    pub keys: Vec<String>,
}

#[derive(Serialize)]
pub struct ValuesBody {
    pub values: Vec<String>,
}

#[derive(Serialize)]
pub struct SearchBody<'a> {
    pub traces: Vec<SummaryJson<'a>>,
    pub limit: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryJson<'a> {
    trace_id: String,
    root_service: Option<&'a str>,
    root_operation: Option<&'a str>,
    start_unix_nano: String,
    duration_nanos: u64,
    span_count: u32,
    error_count: u32,
    services: Vec<ServiceSpansJson<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceSpansJson<'a> {
    name: &'a str,
    span_count: u32,
    error_count: u32,
}

impl<'a> From<&'a TraceSummary> for SummaryJson<'a> {
    fn from(summary: &'a TraceSummary) -> Self {
        Self {
            trace_id: summary.trace_id.to_string(),
            root_service: summary.root.as_ref().map(|r| r.service.as_str()),
            root_operation: summary.root.as_ref().map(|r| r.operation.as_str()),
            start_unix_nano: summary.start_unix_nano.to_string(),
            duration_nanos: summary.duration_nanos(),
            span_count: summary.span_count,
            error_count: summary.error_count,
            services: summary
                .services
                .iter()
                .map(|s| ServiceSpansJson {
                    name: s.service.as_str(),
                    span_count: s.span_count,
                    error_count: s.error_count,
                })
                .collect(),
        }
    }
}

/// `GET /traces/{traceId}`: the adjusted spans, with what was adjusted and what looks wrong.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceBody<'a> {
    trace_id: String,
    start_unix_nano: String,
    duration_nanos: u64,
    spans: Vec<SpanJson<'a>>,
    adjustments: Vec<AdjustmentJson<'a>>,
    warnings: &'a [String],
}

impl<'a> TraceBody<'a> {
    /// The body for the spans of one trace; `spans` must not be empty and are written in order.
    pub fn new(spans: &'a [Span], adjustments: &'a [Adjustment], warnings: &'a [String]) -> Self {
        let start = spans.iter().map(|s| s.start_time_unix_nano).min().unwrap_or(0);
        let end = spans.iter().map(|s| s.end_time_unix_nano.max(s.start_time_unix_nano)).max();
        Self {
            trace_id: spans.first().map(|s| s.trace_id.to_string()).unwrap_or_default(),
            start_unix_nano: start.to_string(),
            duration_nanos: end.unwrap_or(start).saturating_sub(start),
            spans: spans.iter().map(|span| SpanJson::new(span, start)).collect(),
            adjustments: adjustments.iter().map(AdjustmentJson::from).collect(),
            warnings,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdjustmentJson<'a> {
    span_id: String,
    kind: &'static str,
    message: &'a str,
    shift_nanos: Option<i64>,
}

impl<'a> From<&'a Adjustment> for AdjustmentJson<'a> {
    fn from(adjustment: &'a Adjustment) -> Self {
        Self {
            span_id: adjustment.span_id.to_string(),
            kind: adjustment.kind.as_str(),
            message: &adjustment.message,
            shift_nanos: adjustment.shift_nanos,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpanJson<'a> {
    span_id: String,
    parent_span_id: Option<String>,
    name: &'a str,
    kind: &'static str,
    service: &'a str,
    start_unix_nano: String,
    offset_nanos: u64,
    duration_nanos: u64,
    status: StatusJson<'a>,
    attributes: AttributesJson<'a>,
    resource: AttributesJson<'a>,
    scope: ScopeJson<'a>,
    events: Vec<EventJson<'a>>,
    links: Vec<LinkJson<'a>>,
    dropped_attributes_count: u32,
    dropped_events_count: u32,
    dropped_links_count: u32,
    trace_state: &'a str,
    flags: u32,
}

impl<'a> SpanJson<'a> {
    fn new(span: &'a Span, trace_start: u64) -> Self {
        Self {
            span_id: span.span_id.to_string(),
            parent_span_id: span.parent_span_id.map(|id| id.to_string()),
            name: &span.name,
            kind: span.kind.as_str(),
            service: span.service_name(),
            start_unix_nano: span.start_time_unix_nano.to_string(),
            offset_nanos: span.start_time_unix_nano.saturating_sub(trace_start),
            duration_nanos: span.duration_nanos(),
            status: StatusJson {
                code: match span.status.code {
                    StatusCode::Unset => "unset",
                    StatusCode::Ok => "ok",
                    StatusCode::Error => "error",
                },
                message: &span.status.message,
            },
            attributes: AttributesJson(&span.attributes),
            resource: AttributesJson(&span.resource.attributes),
            scope: ScopeJson { name: &span.scope.name, version: &span.scope.version },
            events: span.events.iter().map(|event| EventJson::new(event, trace_start)).collect(),
            links: span.links.iter().map(LinkJson::from).collect(),
            dropped_attributes_count: span.dropped_attributes_count,
            dropped_events_count: span.dropped_events_count,
            dropped_links_count: span.dropped_links_count,
            trace_state: &span.trace_state,
            flags: span.flags,
        }
    }
}

#[derive(Serialize)]
struct StatusJson<'a> {
    code: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
struct ScopeJson<'a> {
    name: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    name: &'a str,
    /// From the start of the trace; negative for an event before it.
    offset_nanos: i64,
    attributes: AttributesJson<'a>,
}

impl<'a> EventJson<'a> {
    fn new(event: &'a Event, trace_start: u64) -> Self {
        let offset = i128::from(event.time_unix_nano) - i128::from(trace_start);
        Self {
            name: &event.name,
            offset_nanos: i64::try_from(offset).unwrap_or(if offset < 0 {
                i64::MIN
            } else {
                i64::MAX
            }),
            attributes: AttributesJson(&event.attributes),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LinkJson<'a> {
    trace_id: String,
    span_id: String,
    attributes: AttributesJson<'a>,
}

impl<'a> From<&'a Link> for LinkJson<'a> {
    fn from(link: &'a Link) -> Self {
        Self {
            trace_id: link.trace_id.to_string(),
            span_id: link.span_id.to_string(),
            attributes: AttributesJson(&link.attributes),
        }
    }
}

/// `[{"key", "type", "value"}, ...]`.
struct AttributesJson<'a>(&'a Attributes);

impl Serialize for AttributesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for attribute in self.0.iter() {
            seq.serialize_element(&AttributeJson {
                key: &attribute.key,
                r#type: type_name(&attribute.value),
                value: ValueJson(&attribute.value),
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct AttributeJson<'a> {
    key: &'a str,
    r#type: &'static str,
    value: ValueJson<'a>,
}

fn type_name(value: &AnyValue) -> &'static str {
    match value {
        AnyValue::Empty => "empty",
        AnyValue::Str(_) => "string",
        AnyValue::Bool(_) => "bool",
        AnyValue::Int(_) => "int",
        AnyValue::Double(_) => "double",
        AnyValue::Bytes(_) => "bytes",
        AnyValue::Array(_) => "array",
        AnyValue::Map(_) => "map",
    }
}

/// A value as JSON: strings, booleans and numbers as themselves, an integer beyond ±(2^53 − 1)
/// and a double that is not finite (`NaN`, `Infinity`, `-Infinity`) as a string, bytes in
/// base64, arrays and maps as JSON arrays and objects of values, an empty value as `null`.
struct ValueJson<'a>(&'a AnyValue);

impl Serialize for ValueJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AnyValue::Empty => serializer.serialize_none(),
            AnyValue::Str(s) => serializer.serialize_str(s),
            AnyValue::Bool(b) => serializer.serialize_bool(*b),
            AnyValue::Int(i) if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(i) => {
                serializer.serialize_i64(*i)
            }
            AnyValue::Int(i) => serializer.collect_str(i),
            AnyValue::Double(d) if d.is_finite() => serializer.serialize_f64(*d),
            AnyValue::Double(d) if d.is_nan() => serializer.serialize_str("NaN"),
            AnyValue::Double(d) if *d > 0.0 => serializer.serialize_str("Infinity"),
            AnyValue::Double(_) => serializer.serialize_str("-Infinity"),
            AnyValue::Bytes(bytes) => serializer.serialize_str(&BASE64.encode(bytes)),
            AnyValue::Array(items) => serializer.collect_seq(items.iter().map(ValueJson)),
            AnyValue::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for entry in entries {
                    map.serialize_entry(entry.key.as_str(), &ValueJson(&entry.value))?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use kiseki_model::KeyValue;
    use serde_json::json;

    use super::*;

    fn rendered(value: AnyValue) -> serde_json::Value {
        serde_json::to_value(ValueJson(&value)).unwrap()
    }

    #[test]
    fn values_keep_what_a_browser_can_read() {
        assert_eq!(rendered(AnyValue::Int(42)), json!(42));
        assert_eq!(rendered(AnyValue::Int(MAX_SAFE_INTEGER)), json!(9_007_199_254_740_991_i64));
        assert_eq!(rendered(AnyValue::Int(MAX_SAFE_INTEGER + 1)), json!("9007199254740992"));
        assert_eq!(rendered(AnyValue::Int(i64::MIN)), json!("-9223372036854775808"));
        assert_eq!(rendered(AnyValue::Double(2.5)), json!(2.5));
        assert_eq!(rendered(AnyValue::Double(f64::NAN)), json!("NaN"));
        assert_eq!(rendered(AnyValue::Double(f64::NEG_INFINITY)), json!("-Infinity"));
        assert_eq!(rendered(AnyValue::Bytes(vec![0, 1, 2, 255])), json!("AAEC/w=="));
        assert_eq!(rendered(AnyValue::Empty), json!(null));
        assert_eq!(
            rendered(AnyValue::Array(vec![AnyValue::Int(1), AnyValue::from("a")])),
            json!([1, "a"])
        );
        assert_eq!(
            rendered(AnyValue::Map(vec![KeyValue::new("k", AnyValue::Bool(true))])),
            json!({"k": true})
        );
    }
}
