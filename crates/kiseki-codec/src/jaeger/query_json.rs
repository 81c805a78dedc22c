//! The JSON that Jaeger's HTTP query API returns, which Jaeger's UI and Grafana's Jaeger data
//! source read (`GET /api/traces/{id}`, `GET /api/traces?service=...`).
//!
//! The shape is Jaeger's `uimodel` as its query service fills it from OpenTelemetry data: the
//! model is first turned into Jaeger tags as the encoders write them, then written as
//! `uimodel.FromDomain` writes a trace: the parent as the first `CHILD_OF` reference,
//! processes deduplicated into `p1`, `p2`, ... in order of first use, times in microseconds,
//! 64-bit trace ids as 16 hex digits and 128-bit ones as 32, integers beyond JavaScript's safe
//! range as strings, bytes as base64.

use std::sync::Arc;

use kiseki_model::{AnyValue, Attributes, Resource, Span, SpanId, TraceId};
use serde_json::{Map, Value, json};

use super::from_model::{process_from_resource, span_from_model};
use super::to_model::NO_SERVICE_NAME;
use super::wire::{Process, RefType, base64, double_json};

/// Largest integer a JavaScript number holds exactly; Jaeger writes larger ones as strings.
const JS_MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// One trace in Jaeger's UI JSON. The spans are written in the order given; the trace id is the
/// first span's.
pub fn trace_to_json(spans: &[Span]) -> Value {
    let mut processes: Vec<(&Arc<Resource>, Process)> = Vec::new();
    let mut json_spans = Vec::with_capacity(spans.len());
    for span in spans {
        let process_index = process_index(&mut processes, &span.resource);
        json_spans.push(span_json(span, process_index));
    }
    let processes: Map<String, Value> = processes
        .iter()
        .enumerate()
        .map(|(i, (resource, process))| {
            // Jaeger's UI needs a name; use the one kiseki's own APIs show for such a resource.
            let service_name = match process.service_name.as_str() {
                "" | NO_SERVICE_NAME => resource.service_name(),
                name => name,
            };
            let json = json!({
                "serviceName": service_name,
                "tags": tags_json(&process.tags),
            });
            (process_id(i), json)
        })
        .collect();
    json!({
        "traceID": spans.first().map(|span| trace_id_text(span.trace_id)).unwrap_or_default(),
        "spans": json_spans,
        "processes": processes,
        "warnings": Value::Null,
    })
}

/// The envelope of Jaeger's trace endpoints: `{"data": [trace...], "total": 0, "limit": 0,
/// "offset": 0, "errors": null}`. Jaeger leaves `total`, `limit` and `offset` at zero here.
pub fn traces_response(traces: &[Vec<Span>]) -> Value {
    let data: Vec<Value> = traces.iter().map(|spans| trace_to_json(spans)).collect();
    json!({ "data": data, "total": 0, "limit": 0, "offset": 0, "errors": Value::Null })
}

/// The envelope Jaeger answers errors with (`404` for an unknown trace, `400` for a bad query):
/// `{"data": null, ..., "errors": [{"code": 404, "msg": "trace not found"}]}`.
pub fn error_response(code: u16, message: &str) -> Value {
    json!({
        "data": Value::Null,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{ "code": code, "msg": message }],
    })
}

/// The index of this resource's process among those seen so far, adding it if it is new.
fn process_index<'a>(
    processes: &mut Vec<(&'a Arc<Resource>, Process)>,
    resource: &'a Arc<Resource>,
) -> usize {
    if let Some(i) = processes.iter().position(|(seen, _)| Arc::ptr_eq(seen, resource)) {
        return i;
    }
    let process = process_from_resource(resource);
    if let Some(i) = processes.iter().position(|(_, seen)| *seen == process) {
        return i;
    }
    processes.push((resource, process));
    processes.len() - 1
}

fn process_id(index: usize) -> String {
    format!("p{}", index + 1)
}

fn span_json(span: &Span, process_index: usize) -> Value {
    let jaeger = span_from_model(span);
    let mut references = Vec::with_capacity(jaeger.references.len() + 1);
    if let Some(parent) = jaeger.parent_span_id {
        references.push(reference_json(RefType::ChildOf, jaeger.trace_id, parent));
    }
    for reference in &jaeger.references {
        references.push(reference_json(reference.ref_type, reference.trace_id, reference.span_id));
    }
    let logs: Vec<Value> = jaeger
        .logs
        .iter()
        .map(|log| json!({ "timestamp": log.time_unix_nano / 1000, "fields": tags_json(&log.fields) }))
        .collect();
    let mut object = Map::new();
    object.insert("traceID".into(), trace_id_text(jaeger.trace_id).into());
    object.insert("spanID".into(), span_id_text(jaeger.span_id).into());
    // Jaeger leaves out zero flags.
    if jaeger.flags != 0 {
        object.insert("flags".into(), jaeger.flags.into());
    }
    object.insert("operationName".into(), jaeger.operation_name.as_str().into());
    object.insert("references".into(), references.into());
    object.insert("startTime".into(), (jaeger.start_time_unix_nano / 1000).into());
    object.insert("duration".into(), (span.duration_nanos() / 1000).into());
    object.insert("tags".into(), tags_json(&jaeger.tags));
    object.insert("logs".into(), logs.into());
    object.insert("processID".into(), process_id(process_index).into());
    object.insert("warnings".into(), Value::Null);
    Value::Object(object)
}

fn reference_json(ref_type: RefType, trace_id: TraceId, span_id: SpanId) -> Value {
    let ref_type = match ref_type {
        RefType::ChildOf => "CHILD_OF",
        RefType::FollowsFrom => "FOLLOWS_FROM",
    };
    json!({
        "refType": ref_type,
        "traceID": trace_id_text(trace_id),
        "spanID": span_id_text(span_id),
    })
}

/// Jaeger's trace id text: 16 hex digits when the high half is zero, else 32.
pub fn trace_id_text(trace_id: TraceId) -> String {
    if trace_id.high() == 0 { format!("{:016x}", trace_id.low()) } else { trace_id.to_string() }
}

fn span_id_text(span_id: SpanId) -> String {
    span_id.to_string()
}

fn tags_json(tags: &Attributes) -> Value {
    let tags: Vec<Value> = tags
        .iter()
        .map(|kv| {
            let (value_type, value) = match &kv.value {
                AnyValue::Bool(value) => ("bool", Value::Bool(*value)),
                AnyValue::Int(value)
                    if (-JS_MAX_SAFE_INTEGER..=JS_MAX_SAFE_INTEGER).contains(value) =>
                {
                    ("int64", Value::from(*value))
                }
                AnyValue::Int(value) => ("int64", Value::String(value.to_string())),
                AnyValue::Double(value) => ("float64", double_json(*value)),
                AnyValue::Bytes(value) => ("binary", Value::String(base64(value))),
                AnyValue::Str(value) => ("string", Value::String(value.to_string())),
                other => ("string", Value::String(other.to_string())),
            };
            json!({ "key": kv.key.as_str(), "type": value_type, "value": value })
        })
        .collect();
    Value::Array(tags)
}
