//! OTLP/JSON traces: lenient reading of what senders write, strict writing of the spec's form.
//!
//! OTLP/JSON differs from generic protobuf JSON: trace and span ids are hex, not base64, and enums
//! are integers. Senders also disagree among themselves, so the reader accepts 64-bit integers as
//! strings or numbers, enum names as well as numbers, ids in either case (or base64, as generic
//! protobuf JSON writers produce), `null` for any field, and snake_case field names.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use kiseki_model::{
    AnyValue, Attributes, Event, IdError, KeyValue, Link, Resource, Scope, Span, SpanId, SpanKind,
    Status, StatusCode, Str, TraceId,
};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use serde_json::{Map, Value, json};

use super::{DecodeError, DecodedTraces, SpanError, group_spans};
use crate::limits;

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_traces_json(body: &[u8]) -> Result<DecodedTraces, DecodeError> {
    let request: Request =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let mut out = DecodedTraces::default();
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default();
        let resource = convert_attributes(resource.attributes).map(|attributes| {
            Arc::new(Resource {
                attributes,
                dropped_attributes_count: resource.dropped_attributes_count.0 as u32,
            })
        });
        for scope_spans in resource_spans.scope_spans {
            let scope = scope_spans.scope.unwrap_or_default();
            let scope = convert_attributes(scope.attributes).map(|attributes| {
                Arc::new(Scope {
                    name: scope.name.into(),
                    version: scope.version.into(),
                    attributes,
                    dropped_attributes_count: scope.dropped_attributes_count.0 as u32,
                })
            });
            for span in scope_spans.spans {
                let converted = match (&resource, &scope) {
                    (Ok(resource), Ok(scope)) => convert_span(span, resource, scope),
                    (Err(error), _) | (_, Err(error)) => Err(error.clone()),
                };
                match converted {
                    Ok(span) => out.spans.push(span),
                    Err(error) => out.reject(error),
                }
            }
        }
    }
    Ok(out)
}

/// The export response in JSON: `{}`, or `partialSuccess` when spans were rejected.
pub fn encode_response_json(rejected_spans: u64, error_message: &str) -> Vec<u8> {
    let body = if rejected_spans > 0 || !error_message.is_empty() {
        json!({"partialSuccess": {
            "rejectedSpans": rejected_spans.to_string(),
            "errorMessage": error_message,
        }})
    } else {
        json!({})
    };
    body.to_string().into_bytes()
}

/// A `google.rpc.Status` in JSON, the body of an OTLP/HTTP error response.
pub fn encode_error_status_json(grpc_code: i32, message: &str) -> Vec<u8> {
    json!({"code": grpc_code, "message": message}).to_string().into_bytes()
}

/// Encodes spans as OTLP/JSON: hex ids, integer enums, 64-bit integers as strings.
pub fn encode_traces_json(spans: &[Span]) -> Vec<u8> {
    let resource_spans: Vec<Value> = group_spans(spans)
        .into_iter()
        .map(|(resource, scopes)| {
            let scope_spans: Vec<Value> = scopes
                .into_iter()
                .map(|(scope, spans)| {
                    let mut scope_json = Map::new();
                    put_str(&mut scope_json, "name", &scope.name);
                    put_str(&mut scope_json, "version", &scope.version);
                    put_attributes(&mut scope_json, "attributes", &scope.attributes);
                    put_count(
                        &mut scope_json,
                        "droppedAttributesCount",
                        scope.dropped_attributes_count,
                    );
                    json!({
                        "scope": scope_json,
                        "spans": spans.into_iter().map(span_json).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut resource_json = Map::new();
            put_attributes(&mut resource_json, "attributes", &resource.attributes);
            put_count(
                &mut resource_json,
                "droppedAttributesCount",
                resource.dropped_attributes_count,
            );
            json!({"resource": resource_json, "scopeSpans": scope_spans})
        })
        .collect();
    json!({"resourceSpans": resource_spans}).to_string().into_bytes()
}

fn span_json(span: &Span) -> Value {
    let mut m = Map::new();
    m.insert("traceId".into(), span.trace_id.to_string().into());
    m.insert("spanId".into(), span.span_id.to_string().into());
    put_str(&mut m, "traceState", &span.trace_state);
    if let Some(parent) = span.parent_span_id {
        m.insert("parentSpanId".into(), parent.to_string().into());
    }
    if span.flags != 0 {
        m.insert("flags".into(), span.flags.into());
    }
    m.insert("name".into(), span.name.as_str().into());
    m.insert("kind".into(), (span.kind as u8).into());
    m.insert("startTimeUnixNano".into(), span.start_time_unix_nano.to_string().into());
    m.insert("endTimeUnixNano".into(), span.end_time_unix_nano.to_string().into());
    put_attributes(&mut m, "attributes", &span.attributes);
    put_count(&mut m, "droppedAttributesCount", span.dropped_attributes_count);
    if !span.events.is_empty() {
        let events = span.events.iter().map(|event| {
            let mut e = Map::new();
            e.insert("timeUnixNano".into(), event.time_unix_nano.to_string().into());
            e.insert("name".into(), event.name.as_str().into());
            put_attributes(&mut e, "attributes", &event.attributes);
            put_count(&mut e, "droppedAttributesCount", event.dropped_attributes_count);
            Value::Object(e)
        });
        m.insert("events".into(), events.collect());
    }
    put_count(&mut m, "droppedEventsCount", span.dropped_events_count);
    if !span.links.is_empty() {
        let links = span.links.iter().map(|link| {
            let mut l = Map::new();
            l.insert("traceId".into(), link.trace_id.to_string().into());
            l.insert("spanId".into(), link.span_id.to_string().into());
            put_str(&mut l, "traceState", &link.trace_state);
            put_attributes(&mut l, "attributes", &link.attributes);
            put_count(&mut l, "droppedAttributesCount", link.dropped_attributes_count);
            if link.flags != 0 {
                l.insert("flags".into(), link.flags.into());
            }
            Value::Object(l)
        });
        m.insert("links".into(), links.collect());
    }
    put_count(&mut m, "droppedLinksCount", span.dropped_links_count);
    if span.status != Status::default() {
        let mut s = Map::new();
        put_str(&mut s, "message", &span.status.message);
        s.insert("code".into(), (span.status.code as u8).into());
        m.insert("status".into(), Value::Object(s));
    }
    Value::Object(m)
}

fn put_str(m: &mut Map<String, Value>, key: &str, value: &str) {
    if !value.is_empty() {
        m.insert(key.into(), value.into());
    }
}

fn put_count(m: &mut Map<String, Value>, key: &str, count: u32) {
    if count != 0 {
        m.insert(key.into(), count.into());
    }
}

fn put_attributes(m: &mut Map<String, Value>, key: &str, attributes: &Attributes) {
    if !attributes.is_empty() {
        m.insert(key.into(), attributes.iter().map(key_value_json).collect());
    }
}

fn key_value_json(kv: &KeyValue) -> Value {
    json!({"key": kv.key.as_str(), "value": any_value_json(&kv.value)})
}

fn any_value_json(value: &AnyValue) -> Value {
    match value {
        AnyValue::Empty => json!({}),
        AnyValue::Str(s) => json!({"stringValue": s.as_str()}),
        AnyValue::Bool(v) => json!({"boolValue": v}),
        AnyValue::Int(v) => json!({"intValue": v.to_string()}),
        AnyValue::Double(v) if v.is_finite() => json!({"doubleValue": v}),
        // JSON has no numbers for these; protobuf's JSON mapping spells them as strings.
        AnyValue::Double(v) if v.is_nan() => json!({"doubleValue": "NaN"}),
        AnyValue::Double(v) if *v > 0.0 => json!({"doubleValue": "Infinity"}),
        AnyValue::Double(_) => json!({"doubleValue": "-Infinity"}),
        AnyValue::Bytes(bytes) => json!({"bytesValue": STANDARD.encode(bytes)}),
        AnyValue::Array(values) => {
            json!({"arrayValue": {"values": values.iter().map(any_value_json).collect::<Vec<_>>()}})
        }
        AnyValue::Map(entries) => {
            json!({"kvlistValue": {"values": entries.iter().map(key_value_json).collect::<Vec<_>>()}})
        }
    }
}

// ---- Reading ----

fn convert_span(
    span: JsonSpan,
    resource: &Arc<Resource>,
    scope: &Arc<Scope>,
) -> Result<Span, SpanError> {
    let name = Str::from(span.name);
    let trace_id =
        parse_trace_id(&span.trace_id).map_err(|e| SpanError::TraceId(e, name.clone()))?;
    let span_id = parse_span_id(&span.span_id).map_err(|e| SpanError::SpanId(e, name.clone()))?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(
            parse_span_id(&span.parent_span_id)
                .map_err(|e| SpanError::ParentSpanId(e, name.clone()))?,
        )
    };
    if span.events.len() > limits::MAX_EVENTS {
        return Err(limits::LimitError::TooManyEvents { count: span.events.len() }.into());
    }
    if span.links.len() > limits::MAX_LINKS {
        return Err(limits::LimitError::TooManyLinks { count: span.links.len() }.into());
    }
    let events = span
        .events
        .into_iter()
        .map(|event| {
            Ok(Event {
                time_unix_nano: event.time_unix_nano.0,
                name: event.name.into(),
                attributes: convert_attributes(event.attributes)?,
                dropped_attributes_count: event.dropped_attributes_count.0 as u32,
            })
        })
        .collect::<Result<Vec<_>, SpanError>>()?;
    let links = span
        .links
        .into_iter()
        .map(|link| {
            Ok(Link {
                trace_id: parse_trace_id(&link.trace_id).map_err(SpanError::LinkTraceId)?,
                span_id: parse_span_id(&link.span_id).map_err(SpanError::LinkSpanId)?,
                trace_state: link.trace_state.into(),
                flags: link.flags.0 as u32,
                attributes: convert_attributes(link.attributes)?,
                dropped_attributes_count: link.dropped_attributes_count.0 as u32,
            })
        })
        .collect::<Result<Vec<_>, SpanError>>()?;
    let status = span.status.unwrap_or_default();
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: span.trace_state.into(),
        flags: span.flags.0 as u32,
        name,
        kind: SpanKind::from_number(span.kind.0).unwrap_or_default(),
        start_time_unix_nano: span.start_time_unix_nano.0,
        end_time_unix_nano: span.end_time_unix_nano.0,
        attributes: convert_attributes(span.attributes)?,
        dropped_attributes_count: span.dropped_attributes_count.0 as u32,
        events,
        dropped_events_count: span.dropped_events_count.0 as u32,
        links,
        dropped_links_count: span.dropped_links_count.0 as u32,
        status: Status {
            code: StatusCode::from_number(status.code.0).unwrap_or_default(),
            message: status.message.into(),
        },
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
    })
}

fn convert_attributes(list: Vec<JsonKeyValue>) -> Result<Attributes, SpanError> {
    if list.len() > limits::MAX_ATTRIBUTES {
        return Err(limits::LimitError::TooManyAttributes { count: list.len() }.into());
    }
    let mut attributes = Attributes::with_capacity(list.len());
    for kv in list {
        attributes.push(kv.key, convert_value(kv.value.unwrap_or_default(), 0)?);
    }
    Ok(attributes)
}

fn convert_value(value: JsonAnyValue, depth: usize) -> Result<AnyValue, SpanError> {
    Ok(if let Some(s) = value.string_value {
        AnyValue::Str(s.into())
    } else if let Some(v) = value.bool_value {
        AnyValue::Bool(v)
    } else if let Some(v) = value.int_value {
        AnyValue::Int(v.0)
    } else if let Some(v) = value.double_value {
        AnyValue::Double(v.0)
    } else if let Some(text) = value.bytes_value {
        AnyValue::Bytes(
            decode_base64(&text).ok_or_else(|| {
                SpanError::InvalidValue(format!("bytesValue {text:?} is not base64"))
            })?,
        )
    } else if let Some(array) = value.array_value {
        limits::check_depth(depth + 1)?;
        if array.values.len() > limits::MAX_ATTRIBUTES {
            return Err(limits::LimitError::TooManyAttributes { count: array.values.len() }.into());
        }
        let values = array.values.into_iter().map(|v| convert_value(v, depth + 1));
        AnyValue::Array(values.collect::<Result<_, _>>()?)
    } else if let Some(list) = value.kvlist_value {
        limits::check_depth(depth + 1)?;
        if list.values.len() > limits::MAX_ATTRIBUTES {
            return Err(limits::LimitError::TooManyAttributes { count: list.values.len() }.into());
        }
        let entries = list.values.into_iter().map(|kv| {
            Ok(KeyValue {
                key: kv.key.into(),
                value: convert_value(kv.value.unwrap_or_default(), depth + 1)?,
            })
        });
        AnyValue::Map(entries.collect::<Result<_, SpanError>>()?)
    } else {
        AnyValue::Empty
    })
}

/// Hex as OTLP/JSON specifies; base64 of 16 bytes as generic protobuf JSON writers produce.
fn parse_trace_id(text: &str) -> Result<TraceId, IdError> {
    match text.len() {
        22 | 24 => TraceId::from_slice(&decode_base64(text).ok_or(IdError::NotHex)?),
        _ => TraceId::from_hex(text),
    }
}

fn parse_span_id(text: &str) -> Result<SpanId, IdError> {
    match text.len() {
        11 | 12 => SpanId::from_slice(&decode_base64(text).ok_or(IdError::NotHex)?),
        _ => SpanId::from_hex(text),
    }
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).or_else(|_| STANDARD_NO_PAD.decode(text)).ok()
}

/// `null` reads as the field's default, as a missing field would.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default, deserialize_with = "nullable", alias = "resource_spans")]
    resource_spans: Vec<JsonResourceSpans>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonResourceSpans {
    #[serde(default, deserialize_with = "nullable")]
    resource: Option<JsonResource>,
    #[serde(default, deserialize_with = "nullable", alias = "scope_spans")]
    scope_spans: Vec<JsonScopeSpans>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonResource {
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<JsonKeyValue>,
    #[serde(default, deserialize_with = "nullable", alias = "dropped_attributes_count")]
    dropped_attributes_count: Integer<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonScopeSpans {
    #[serde(default, deserialize_with = "nullable")]
    scope: Option<JsonScope>,
    #[serde(default, deserialize_with = "nullable")]
    spans: Vec<JsonSpan>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonScope {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    version: String,
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<JsonKeyValue>,
    #[serde(default, deserialize_with = "nullable", alias = "dropped_attributes_count")]
    dropped_attributes_count: Integer<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonSpan {
    #[serde(default, deserialize_with = "nullable", alias = "trace_id")]
    trace_id: String,
    #[serde(default, deserialize_with = "nullable", alias = "span_id")]
    span_id: String,
    #[serde(default, deserialize_with = "nullable", alias = "trace_state")]
    trace_state: String,
    #[serde(default, deserialize_with = "nullable", alias = "parent_span_id")]
    parent_span_id: String,
    #[serde(default, deserialize_with = "nullable")]
    flags: Integer<u64>,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    kind: EnumNumber<KindNames>,
    #[serde(default, deserialize_with = "nullable", alias = "start_time_unix_nano")]
    start_time_unix_nano: Integer<u64>,
    #[serde(default, deserialize_with = "nullable", alias = "end_time_unix_nano")]
    end_time_unix_nano: Integer<u64>,
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<JsonKeyValue>,
    #[serde(default, deserialize_with = "nullable", alias = "dropped_attributes_count")]
    dropped_attributes_count: Integer<u64>,
    #[serde(default, deserialize_with = "nullable")]
    events: Vec<JsonEvent>,
    #[serde(default, deserialize_with = "nullable", alias = "dropped_events_count")]
    dropped_events_count: Integer<u64>,
    #[serde(default, deserialize_with = "nullable")]
    links: Vec<JsonLink>,
    #[serde(default, deserialize_with = "nullable", alias = "dropped_links_count")]
    dropped_links_count: Integer<u64>,
    #[serde(default, deserialize_with = "nullable")]
    status: Option<JsonStatus>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonEvent {
    #[serde(default, deserialize_with = "nullable", alias = "time_unix_nano")]
    time_unix_nano: Integer<u64>,
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<JsonKeyValue>,
    #[serde(default, deserialize_with = "nullable", alias = "dropped_attributes_count")]
    dropped_attributes_count: Integer<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonLink {
    #[serde(default, deserialize_with = "nullable", alias = "trace_id")]
    trace_id: String,
    #[serde(default, deserialize_with = "nullable", alias = "span_id")]
    span_id: String,
    #[serde(default, deserialize_with = "nullable", alias = "trace_state")]
    trace_state: String,
    #[serde(default, deserialize_with = "nullable")]
    attributes: Vec<JsonKeyValue>,
    #[serde(default, deserialize_with = "nullable", alias = "dropped_attributes_count")]
    dropped_attributes_count: Integer<u64>,
    #[serde(default, deserialize_with = "nullable")]
    flags: Integer<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonStatus {
    #[serde(default, deserialize_with = "nullable")]
    message: String,
    #[serde(default, deserialize_with = "nullable")]
    code: EnumNumber<StatusNames>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonKeyValue {
    #[serde(default, deserialize_with = "nullable")]
    key: String,
    #[serde(default, deserialize_with = "nullable")]
    value: Option<JsonAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct JsonAnyValue {
    #[serde(default, alias = "string_value")]
    string_value: Option<String>,
    #[serde(default, alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(default, alias = "int_value")]
    int_value: Option<Integer<i64>>,
    #[serde(default, alias = "double_value")]
    double_value: Option<Double>,
    #[serde(default, alias = "bytes_value")]
    bytes_value: Option<String>,
    #[serde(default, alias = "array_value")]
    array_value: Option<JsonValues<JsonAnyValue>>,
    #[serde(default, alias = "kvlist_value")]
    kvlist_value: Option<JsonValues<JsonKeyValue>>,
}

#[derive(Deserialize, Default)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct JsonValues<T> {
    #[serde(default = "Vec::new", deserialize_with = "nullable_vec")]
    values: Vec<T>,
}

fn nullable_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// An integer written as a JSON number or as a string holding one.
#[derive(Default, Clone, Copy)]
struct Integer<T>(T);

impl<'de, T> Deserialize<'de> for Integer<T>
where
    T: TryFrom<i128> + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let wide: i128 = match &value {
            Value::Number(n) => {
                if let Some(v) = n.as_u64() {
                    i128::from(v)
                } else if let Some(v) = n.as_i64() {
                    i128::from(v)
                } else {
                    // Some senders write large integers as JS numbers with an exponent.
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    if f.fract() != 0.0 || !f.is_finite() {
                        return Err(de::Error::custom(format!("{n} is not an integer")));
                    }
                    f as i128
                }
            }
            Value::String(s) => s
                .trim()
                .parse()
                .map_err(|_| de::Error::custom(format!("{s:?} is not an integer")))?,
            Value::Null => return Ok(Integer(T::default())),
            other => return Err(de::Error::custom(format!("{other} is not an integer"))),
        };
        T::try_from(wide)
            .map(Integer)
            .map_err(|_| de::Error::custom(format!("{wide} is out of range")))
    }
}

/// A double written as a JSON number or as a string (`"NaN"`, `"Infinity"`, `"1.5"`).
#[derive(Default, Clone, Copy)]
struct Double(f64);

impl<'de> Deserialize<'de> for Double {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Number(n) => Ok(Double(n.as_f64().unwrap_or(f64::NAN))),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Double)
                .map_err(|_| de::Error::custom(format!("{s:?} is not a number"))),
            Value::Null => Ok(Double(0.0)),
            other => Err(de::Error::custom(format!("{other} is not a number"))),
        }
    }
}

/// The names an enum may be spelled with, beside its number.
trait EnumNames {
    const WHAT: &'static str;
    fn number_of(name: &str) -> Option<i64>;
}

struct KindNames;
impl EnumNames for KindNames {
    const WHAT: &'static str = "span kind";
    fn number_of(name: &str) -> Option<i64> {
        let short = name.strip_prefix("SPAN_KIND_").unwrap_or(name);
        SpanKind::from_name(short).map(|kind| kind as i64)
    }
}

struct StatusNames;
impl EnumNames for StatusNames {
    const WHAT: &'static str = "status code";
    fn number_of(name: &str) -> Option<i64> {
        let short = name.strip_prefix("STATUS_CODE_").unwrap_or(name);
        [StatusCode::Unset, StatusCode::Ok, StatusCode::Error]
            .into_iter()
            .find(|code| code.as_str().eq_ignore_ascii_case(short))
            .map(|code| code as i64)
    }
}

/// An enum written as its number or its name.
struct EnumNumber<N>(i64, std::marker::PhantomData<N>);

impl<N> Default for EnumNumber<N> {
    fn default() -> Self {
        EnumNumber(0, std::marker::PhantomData)
    }
}

impl<'de, N: EnumNames> Deserialize<'de> for EnumNumber<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = match Value::deserialize(deserializer)? {
            Value::Number(n) => n
                .as_i64()
                .ok_or_else(|| de::Error::custom(format!("{} {n} is not an integer", N::WHAT)))?,
            Value::String(s) => N::number_of(s.trim())
                .ok_or_else(|| de::Error::custom(format!("unknown {} {s:?}", N::WHAT)))?,
            Value::Null => 0,
            other => return Err(de::Error::custom(format!("{} {other} is invalid", N::WHAT))),
        };
        Ok(EnumNumber(number, std::marker::PhantomData))
    }
}
