//! Zipkin v1 JSON (`POST /api/v1/spans` with a JSON body).
//!
//! Binary annotation values keep their JSON type (string, boolean, integer, float). Zipkin 1.x
//! also wrote a `type` field (`BOOL`, `BYTES`, `I16`, `I32`, `I64`, `DOUBLE`, `STRING`) with the
//! value as a JSON literal or as text; such values are read as that type (bytes from base64).
//! Zipkin's own reader keeps only string values and the boolean address annotations.

use kiseki_model::{AnyValue, Span, Str};
use serde::de::IgnoredAny;

use super::encoding::Encoding;
use super::error::{DecodeError, SpanError};
use super::to_model::to_model;
use super::v1::{V1Annotation, V1BinaryAnnotation, V1Span, convert, is_address_key};
use super::v2_json::{JsonEndpoint, Micros, read_ids, read_parent_id};
use super::values::{JsonStr, JsonValue, base64_decode};
use crate::limits::{self, LimitError};

/// Decodes a JSON array of Zipkin v1 spans, splitting shared client/server spans in two as Zipkin
/// does. An empty body is an empty list.
pub fn decode_v1_json(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let spans: Vec<JsonV1Span> = serde_json::from_slice(body)?;
    if spans.iter().any(JsonV1Span::is_v2) {
        return Err(DecodeError::WrongEncoding {
            expected: Encoding::V1Json,
            found: Encoding::V2Json,
        });
    }
    let mut wire = Vec::with_capacity(spans.len());
    for (index, span) in spans.into_iter().enumerate() {
        let mut v1 = span.into_v1().map_err(|e| e.at(index))?;
        v1.sort();
        wire.extend(convert(&v1).into_iter().map(|z| (index, z)));
    }
    to_model(wire)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonV1Span {
    trace_id: Option<JsonStr>,
    id: Option<JsonStr>,
    parent_id: Option<JsonStr>,
    name: Option<JsonStr>,
    timestamp: Option<Micros>,
    duration: Option<Micros>,
    annotations: Option<Vec<JsonV1Annotation>>,
    binary_annotations: Option<Vec<JsonV1BinaryAnnotation>>,
    debug: Option<bool>,
    /// Only v2 has these: their presence means a v2 list was posted as v1.
    local_endpoint: Option<IgnoredAny>,
    remote_endpoint: Option<IgnoredAny>,
    tags: Option<IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct JsonV1Annotation {
    timestamp: Option<Micros>,
    value: Option<JsonStr>,
    endpoint: Option<JsonEndpoint>,
}

#[derive(serde::Deserialize)]
struct JsonV1BinaryAnnotation {
    key: Option<JsonStr>,
    value: Option<JsonValue>,
    #[serde(rename = "type")]
    annotation_type: Option<JsonStr>,
    endpoint: Option<JsonEndpoint>,
}

impl JsonV1Span {
    fn is_v2(&self) -> bool {
        self.local_endpoint.is_some() || self.remote_endpoint.is_some() || self.tags.is_some()
    }

    fn into_v1(self) -> Result<V1Span, SpanError> {
        let (trace_id, id) = read_ids(self.trace_id, self.id)?;
        let annotations = self.annotations.unwrap_or_default();
        let binary_annotations = self.binary_annotations.unwrap_or_default();
        if annotations.len() > limits::MAX_EVENTS {
            return Err(LimitError::TooManyEvents { count: annotations.len() }.into());
        }
        if binary_annotations.len() > limits::MAX_ATTRIBUTES {
            return Err(LimitError::TooManyAttributes { count: binary_annotations.len() }.into());
        }
        let mut span = V1Span {
            trace_id,
            id,
            parent_id: read_parent_id(self.parent_id)?,
            name: self.name.map(|JsonStr(name)| name).unwrap_or_default(),
            timestamp: self.timestamp.map_or(0, |Micros(t)| t),
            duration: self.duration.map_or(0, |Micros(d)| d),
            annotations: Vec::with_capacity(annotations.len()),
            binary_annotations: Vec::with_capacity(binary_annotations.len()),
            debug: self.debug == Some(true),
        };
        for (i, a) in annotations.into_iter().enumerate() {
            let Micros(timestamp) = a.timestamp.ok_or(SpanError::AnnotationWithoutTimestamp(i))?;
            let JsonStr(value) = a.value.ok_or(SpanError::AnnotationWithoutValue(i))?;
            let endpoint = a.endpoint.map(JsonEndpoint::into_wire).transpose()?.flatten();
            span.annotations.push(V1Annotation { timestamp, value, endpoint });
        }
        for (i, b) in binary_annotations.into_iter().enumerate() {
            let JsonStr(key) = b.key.ok_or(SpanError::BinaryAnnotationWithoutKey(i))?;
            let endpoint = b.endpoint.map(JsonEndpoint::into_wire).transpose()?.flatten();
            // A null value is skipped, as Zipkin skips it.
            let Some(JsonValue(value)) = b.value else { continue };
            let type_name = b.annotation_type.map(|JsonStr(t)| t);
            let value = typed_value(&key, value, type_name.as_deref())?;
            if value == AnyValue::Empty {
                continue;
            }
            // An address needs to be `true` and to have the address; Zipkin drops it otherwise.
            let is_bool_address = is_address_key(&key) && value.as_bool().is_some();
            if is_bool_address && (value.as_bool() == Some(false) || endpoint.is_none()) {
                continue;
            }
            span.binary_annotations.push(V1BinaryAnnotation { key, value, endpoint });
        }
        Ok(span)
    }
}

/// A binary annotation value as the type it was declared with, or as JSON typed it.
fn typed_value(key: &Str, value: AnyValue, type_name: Option<&str>) -> Result<AnyValue, SpanError> {
    let problem =
        |text: String| SpanError::BinaryAnnotationValue { key: key.to_string(), problem: text };
    let Some(type_name) = type_name else { return Ok(value) };
    let mismatch = || problem(format!("value {value} is not of type {type_name}"));
    let typed = match (type_name.to_ascii_uppercase().as_str(), &value) {
        ("STRING", AnyValue::Str(_)) | ("BOOL", AnyValue::Bool(_)) => value.clone(),
        ("BOOL", AnyValue::Str(s)) => match s.as_str() {
            "true" => AnyValue::Bool(true),
            "false" => AnyValue::Bool(false),
            _ => return Err(mismatch()),
        },
        ("I16", _) => {
            AnyValue::Int(int_value(&value, i16::MIN.into(), i16::MAX.into()).ok_or_else(mismatch)?)
        }
        ("I32", _) => {
            AnyValue::Int(int_value(&value, i32::MIN.into(), i32::MAX.into()).ok_or_else(mismatch)?)
        }
        ("I64", _) => AnyValue::Int(int_value(&value, i64::MIN, i64::MAX).ok_or_else(mismatch)?),
        ("DOUBLE", AnyValue::Double(v)) => AnyValue::Double(*v),
        ("DOUBLE", AnyValue::Int(v)) => AnyValue::Double(*v as f64),
        ("DOUBLE", AnyValue::Str(s)) => AnyValue::Double(s.parse().map_err(|_| mismatch())?),
        ("BYTES", AnyValue::Str(s)) => AnyValue::Bytes(base64_decode(s).ok_or_else(mismatch)?),
        ("STRING" | "BOOL" | "DOUBLE" | "BYTES", _) => return Err(mismatch()),
        _ => return Err(problem(format!("unknown type {type_name:?}"))),
    };
    Ok(typed)
}

fn int_value(value: &AnyValue, min: i64, max: i64) -> Option<i64> {
    let v = match value {
        AnyValue::Int(v) => *v,
        AnyValue::Str(s) => s.parse().ok()?,
        _ => return None,
    };
    (min..=max).contains(&v).then_some(v)
}

/// Writes v1 spans as JSON the way Zipkin 1.x did (typed values with their `type`), for tests.
#[cfg(test)]
pub(crate) fn encode_v1_json_for_tests(spans: &[V1Span]) -> Vec<u8> {
    use super::v2_json::trace_id_hex;
    use super::values::{JsonOut, base64_encode};
    use super::wire::Endpoint;
    use serde_json::{Value, json};

    fn endpoint(e: &Endpoint) -> Value {
        let mut out = serde_json::Map::new();
        if let Some(name) = &e.service_name {
            out.insert("serviceName".into(), json!(name.as_str()));
        }
        if let Some(ip) = e.ipv4 {
            out.insert("ipv4".into(), json!(ip.to_string()));
        }
        if let Some(ip) = e.ipv6 {
            out.insert("ipv6".into(), json!(ip.to_string()));
        }
        if e.port != 0 {
            out.insert("port".into(), json!(e.port));
        }
        Value::Object(out)
    }
    let list: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut out = serde_json::Map::new();
            out.insert("traceId".into(), json!(trace_id_hex(s.trace_id)));
            out.insert("id".into(), json!(s.id.to_string()));
            if let Some(parent) = s.parent_id {
                out.insert("parentId".into(), json!(parent.to_string()));
            }
            out.insert("name".into(), json!(s.name.as_str()));
            if s.timestamp != 0 {
                out.insert("timestamp".into(), json!(s.timestamp));
            }
            if s.duration != 0 {
                out.insert("duration".into(), json!(s.duration));
            }
            let annotations: Vec<Value> = s
                .annotations
                .iter()
                .map(|a| {
                    let mut out = json!({"timestamp": a.timestamp, "value": a.value.as_str()});
                    if let Some(e) = &a.endpoint {
                        out["endpoint"] = endpoint(e);
                    }
                    out
                })
                .collect();
            out.insert("annotations".into(), Value::Array(annotations));
            let binary: Vec<Value> = s
                .binary_annotations
                .iter()
                .map(|b| {
                    let (value, type_name) = match &b.value {
                        AnyValue::Int(v) => (json!(v.to_string()), Some("I64")),
                        AnyValue::Double(v) => (json!(v), Some("DOUBLE")),
                        AnyValue::Bytes(v) => (json!(base64_encode(v)), Some("BYTES")),
                        other => (serde_json::to_value(JsonOut(other)).unwrap(), None),
                    };
                    let mut out = json!({"key": b.key.as_str(), "value": value});
                    if let Some(type_name) = type_name {
                        out["type"] = json!(type_name);
                    }
                    if let Some(e) = &b.endpoint {
                        out["endpoint"] = endpoint(e);
                    }
                    out
                })
                .collect();
            out.insert("binaryAnnotations".into(), Value::Array(binary));
            if s.debug {
                out.insert("debug".into(), json!(true));
            }
            Value::Object(out)
        })
        .collect();
    serde_json::to_vec(&list).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiseki_model::{SpanKind, semconv};

    #[test]
    fn typed_binary_annotations_keep_their_type() {
        let body = br#"[{"traceId":"463ac35c9f6413ad48485a3953bb6124","id":"a","name":"get",
            "binaryAnnotations":[
              {"key":"s","value":"text"},
              {"key":"b","value":true},
              {"key":"n","value":42},
              {"key":"f","value":0.25},
              {"key":"i16","value":"-3","type":"I16"},
              {"key":"i64","value":1099511627777,"type":"I64"},
              {"key":"d","value":"1.5","type":"DOUBLE"},
              {"key":"bytes","value":"AAE=","type":"BYTES"},
              {"key":"flag","value":"true","type":"BOOL"},
              {"key":"skipped","value":null}
            ]}]"#;
        let spans = decode_v1_json(body).unwrap();
        let a = &spans[0].attributes;
        assert_eq!(a.get("s"), Some(&AnyValue::from("text")));
        assert_eq!(a.get("b"), Some(&AnyValue::Bool(true)));
        assert_eq!(a.get("n"), Some(&AnyValue::Int(42)));
        assert_eq!(a.get("f"), Some(&AnyValue::Double(0.25)));
        assert_eq!(a.get("i16"), Some(&AnyValue::Int(-3)));
        assert_eq!(a.get("i64"), Some(&AnyValue::Int(1_099_511_627_777)));
        assert_eq!(a.get("d"), Some(&AnyValue::Double(1.5)));
        assert_eq!(a.get("bytes"), Some(&AnyValue::Bytes(vec![0, 1])));
        assert_eq!(a.get("flag"), Some(&AnyValue::Bool(true)));
        assert_eq!(a.get("skipped"), None);
        assert_eq!(spans[0].trace_id.high(), 0x463ac35c9f6413ad);
        assert_eq!(spans[0].span_id.get(), 10);
    }

    #[test]
    fn wrongly_typed_values_are_errors() {
        for (value, type_name) in [
            ("\"x\"", "I64"),
            ("70000", "I16"),
            ("\"!!\"", "BYTES"),
            ("1", "STRING"),
            ("\"x\"", "FLOAT128"),
        ] {
            let body = format!(
                r#"[{{"traceId":"1","id":"2","binaryAnnotations":[{{"key":"k","value":{value},"type":"{type_name}"}}]}}]"#
            );
            let err = decode_v1_json(body.as_bytes()).unwrap_err();
            assert!(err.to_string().starts_with("span 0: binary annotation \"k\""), "{err}");
        }
    }

    /// What zipkin-js 0.22 sends for a client span when it has no local endpoint.
    #[test]
    fn zipkin_js_client_without_endpoint_on_core_annotations() {
        let body = br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"get",
            "timestamp":1700000000000000,"duration":2500,
            "annotations":[{"value":"cs","timestamp":1700000000000000},
                           {"value":"cr","timestamp":1700000000002500}],
            "binaryAnnotations":[{"key":"http.path","value":"/x"},
                                 {"key":"sa","value":true,"endpoint":{"serviceName":"backend","ipv4":"10.0.0.2","port":80}}]}]"#;
        let spans = decode_v1_json(body).unwrap();
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!(s.kind, SpanKind::Unspecified);
        let events: Vec<&str> = s.events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(events, ["cs", "cr"]);
        assert_eq!(s.attributes.get_str(semconv::PEER_SERVICE), Some("backend"));
        assert_eq!(s.attributes.get_str(semconv::NETWORK_PEER_ADDRESS), Some("10.0.0.2"));
        assert_eq!(s.duration_nanos(), 2_500_000);
        assert_eq!(s.resource.attributes.get(semconv::SERVICE_NAME), None);
    }

    #[test]
    fn v2_posted_as_v1_is_refused() {
        let body = br#"[{"traceId":"1","id":"2","localEndpoint":{"serviceName":"a"}}]"#;
        assert!(matches!(
            decode_v1_json(body),
            Err(DecodeError::WrongEncoding { found: Encoding::V2Json, .. })
        ));
    }

    #[test]
    fn missing_fields_are_named() {
        let cases = [
            (r#"[{"id":"2"}]"#, "span 0: trace id is missing"),
            (r#"[{"traceId":"1","id":"2"},{"traceId":"1"}]"#, "span 1: span id is missing"),
            (r#"[{"traceId":"0","id":"2"}]"#, "span 0: trace id is invalid: id is all zeros"),
            (
                r#"[{"traceId":"1","id":"2","annotations":[{"value":"cs"}]}]"#,
                "span 0: annotation 0 has no timestamp",
            ),
            (
                r#"[{"traceId":"1","id":"2","binaryAnnotations":[{"value":"x"}]}]"#,
                "span 0: binary annotation 0 has no key",
            ),
        ];
        for (body, message) in cases {
            assert_eq!(decode_v1_json(body.as_bytes()).unwrap_err().to_string(), message);
        }
    }
}
