//! Reading v0.3/v0.4 JSON bodies (`Content-Type: application/json`): the same traces as the
//! msgpack form, `[[span, ...], ...]`, with the same leniency: missing fields are zero, numbers
//! may be integers or floats of either sign, `null` reads as empty.

use std::fmt;

use kiseki_model::{AnyValue, Str};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::limits::{self, LimitError, MAX_EVENTS, MAX_LINKS};

use super::error::DecodeError;
use super::msgpack::{Number, number_to_f64, number_to_i64, number_to_id};
use super::read_msgpack::check_attribute_list;
use super::wire::{DdChunk, DdSpan, DdSpanEvent, DdSpanLink};

pub(crate) fn read_traces(body: &[u8]) -> Result<Vec<DdChunk>, DecodeError> {
    let traces: Option<Vec<Option<Vec<Option<JsonSpan>>>>> =
        serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    let mut chunks = Vec::new();
    for trace in traces.unwrap_or_default() {
        let mut spans = Vec::new();
        for span in trace.unwrap_or_default().into_iter().flatten() {
            spans.push(span.into_wire()?);
        }
        chunks.push(DdChunk { spans, ..DdChunk::default() });
    }
    Ok(chunks)
}

#[derive(Deserialize)]
struct JsonSpan {
    #[serde(default, deserialize_with = "string")]
    service: String,
    #[serde(default, deserialize_with = "string")]
    name: String,
    #[serde(default, deserialize_with = "string")]
    resource: String,
    #[serde(default, rename = "type", deserialize_with = "string")]
    span_type: String,
    #[serde(default, deserialize_with = "id")]
    trace_id: u64,
    #[serde(default, deserialize_with = "id")]
    span_id: u64,
    #[serde(default, deserialize_with = "id")]
    parent_id: u64,
    #[serde(default, deserialize_with = "int64")]
    start: i64,
    #[serde(default, deserialize_with = "int64")]
    duration: i64,
    #[serde(default, deserialize_with = "flag")]
    error: bool,
    #[serde(default, deserialize_with = "string_map")]
    meta: Vec<(String, String)>,
    #[serde(default, deserialize_with = "number_map")]
    metrics: Vec<(String, f64)>,
    #[serde(default)]
    span_links: Option<Vec<Option<JsonLink>>>,
    #[serde(default)]
    span_events: Option<Vec<Option<JsonEvent>>>,
}

#[derive(Deserialize)]
struct JsonLink {
    #[serde(default, deserialize_with = "id")]
    trace_id: u64,
    #[serde(default, deserialize_with = "id")]
    trace_id_high: u64,
    #[serde(default, deserialize_with = "id")]
    span_id: u64,
    #[serde(default, deserialize_with = "string_map")]
    attributes: Vec<(String, String)>,
    #[serde(default, deserialize_with = "string")]
    tracestate: String,
    #[serde(default, deserialize_with = "id")]
    flags: u64,
}

#[derive(Deserialize)]
struct JsonEvent {
    #[serde(default, deserialize_with = "id")]
    time_unix_nano: u64,
    #[serde(default, deserialize_with = "string")]
    name: String,
    #[serde(default)]
    attributes: Option<JsonAttributes>,
}

/// The agent's typed attribute value, as in the msgpack form.
#[derive(Deserialize, Default)]
struct JsonValue {
    #[serde(default, rename = "type", deserialize_with = "int64")]
    value_type: i64,
    #[serde(default, deserialize_with = "string")]
    string_value: String,
    #[serde(default)]
    bool_value: Option<bool>,
    #[serde(default, deserialize_with = "int64")]
    int_value: i64,
    #[serde(default, deserialize_with = "float")]
    double_value: f64,
    #[serde(default)]
    array_value: Option<JsonArray>,
}

#[derive(Deserialize, Default)]
struct JsonArray {
    #[serde(default)]
    values: Option<Vec<Option<JsonValue>>>,
}

/// Event attributes arrive as a JSON object; kept as pairs in their order.
struct JsonAttribute(String, Option<JsonValue>);

impl JsonSpan {
    fn into_wire(self) -> Result<DdSpan, DecodeError> {
        check_attribute_list(self.meta.len())?;
        check_attribute_list(self.metrics.len())?;
        let links = self.span_links.unwrap_or_default();
        if links.len() > MAX_LINKS {
            return Err(LimitError::TooManyLinks { count: links.len() }.into());
        }
        let events = self.span_events.unwrap_or_default();
        if events.len() > MAX_EVENTS {
            return Err(LimitError::TooManyEvents { count: events.len() }.into());
        }
        Ok(DdSpan {
            service: Str::from(self.service),
            name: Str::from(self.name),
            resource: Str::from(self.resource),
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_id: self.parent_id,
            start: self.start,
            duration: self.duration,
            error: i32::from(self.error),
            meta: strings(self.meta),
            metrics: self.metrics.into_iter().map(|(k, v)| (Str::from(k), v)).collect(),
            span_type: Str::from(self.span_type),
            span_links: links
                .into_iter()
                .flatten()
                .map(JsonLink::into_wire)
                .collect::<Result<_, _>>()?,
            span_events: events
                .into_iter()
                .flatten()
                .map(JsonEvent::into_wire)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl JsonLink {
    fn into_wire(self) -> Result<DdSpanLink, DecodeError> {
        check_attribute_list(self.attributes.len())?;
        Ok(DdSpanLink {
            trace_id: self.trace_id,
            trace_id_high: self.trace_id_high,
            span_id: self.span_id,
            attributes: strings(self.attributes),
            tracestate: Str::from(self.tracestate),
            flags: u32::try_from(self.flags).unwrap_or(0),
        })
    }
}

impl JsonEvent {
    fn into_wire(self) -> Result<DdSpanEvent, DecodeError> {
        let attributes = self.attributes.map(|a| a.0).unwrap_or_default();
        check_attribute_list(attributes.len())?;
        let mut pairs = Vec::with_capacity(attributes.len());
        for JsonAttribute(key, value) in attributes {
            let value = value.map_or(AnyValue::Empty, JsonValue::into_value);
            limits::check_value(&value)?;
            pairs.push((Str::from(key), value));
        }
        Ok(DdSpanEvent {
            time_unix_nano: self.time_unix_nano,
            name: Str::from(self.name),
            attributes: pairs,
        })
    }
}

impl JsonValue {
    fn into_value(self) -> AnyValue {
        match self.value_type {
            0 => AnyValue::Str(Str::from(self.string_value)),
            1 => AnyValue::Bool(self.bool_value.unwrap_or(false)),
            2 => AnyValue::Int(self.int_value),
            3 => AnyValue::Double(self.double_value),
            4 => {
                let values = self.array_value.and_then(|a| a.values).unwrap_or_default();
                AnyValue::Array(
                    values
                        .into_iter()
                        .map(|v| v.map_or(AnyValue::Empty, Self::into_value))
                        .collect(),
                )
            }
            _ => AnyValue::Empty,
        }
    }
}

fn strings(pairs: Vec<(String, String)>) -> Vec<(Str, Str)> {
    pairs.into_iter().map(|(k, v)| (Str::from(k), Str::from(v))).collect()
}

// Lenient field readers.

/// Any JSON number, or null.
struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Option<Number>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or null")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(Number::Unsigned(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(Number::Signed(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(Number::Float(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Number>, D::Error> {
    deserializer.deserialize_any(NumberVisitor)
}

fn id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match number(deserializer)? {
        None => Ok(0),
        Some(n) => {
            number_to_id(n).ok_or_else(|| de::Error::custom("number does not fit in a 64-bit id"))
        }
    }
}

fn int64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    match number(deserializer)? {
        None => Ok(0),
        Some(n) => number_to_i64(n)
            .ok_or_else(|| de::Error::custom("number does not fit in a signed 64-bit integer")),
    }
}

fn float<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(number(deserializer)?.map_or(0.0, number_to_f64))
}

/// A number or a boolean, true when non-zero.
fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct FlagVisitor;
    impl<'de> Visitor<'de> for FlagVisitor {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a number, a boolean or null")
        }
        fn visit_bool<E: de::Error>(self, value: bool) -> Result<bool, E> {
            Ok(value)
        }
        fn visit_u64<E: de::Error>(self, value: u64) -> Result<bool, E> {
            Ok(value != 0)
        }
        fn visit_i64<E: de::Error>(self, value: i64) -> Result<bool, E> {
            Ok(value != 0)
        }
        fn visit_f64<E: de::Error>(self, value: f64) -> Result<bool, E> {
            Ok(value != 0.0)
        }
        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
    }
    deserializer.deserialize_any(FlagVisitor)
}

/// A string, or null read as empty.
fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

/// An object of strings (null values read as empty), in its order; null reads as empty.
fn string_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    struct StringMapVisitor;
    impl<'de> Visitor<'de> for StringMapVisitor {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, Option<String>>()? {
                entries.push((key, value.unwrap_or_default()));
            }
            Ok(entries)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(StringMapVisitor)
}

/// An object of numbers (null values read as zero), in its order; null reads as empty.
fn number_map<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, f64)>, D::Error> {
    struct NumberMapVisitor;
    impl<'de> Visitor<'de> for NumberMapVisitor {
        type Value = Vec<(String, f64)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of numbers")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value::<LenientFloat>()?;
                entries.push((key, value.0));
            }
            Ok(entries)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(NumberMapVisitor)
}

struct LenientFloat(f64);

impl<'de> Deserialize<'de> for LenientFloat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        float(deserializer).map(LenientFloat)
    }
}

impl<'de> Deserialize<'de> for JsonAttributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AttributesVisitor;
        impl<'de> Visitor<'de> for AttributesVisitor {
            type Value = JsonAttributes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of attribute values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Option<JsonValue>>()? {
                    entries.push(JsonAttribute(key, value));
                }
                Ok(JsonAttributes(entries))
            }
        }
        deserializer.deserialize_map(AttributesVisitor)
    }
}

/// The attributes of a native span event, in their order.
struct JsonAttributes(Vec<JsonAttribute>);
