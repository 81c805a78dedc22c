//! Events and links that travel as JSON text in meta: `events` (what tracers send when the agent
//! does not take native span events, and what Datadog's OTLP mapping writes) and
//! `_dd.span_links` (v0.5 has no links field).
//!
//! Reading is lenient about the text but all-or-nothing: JSON that does not have the expected
//! shape, or exceeds a limit, is left in meta as the string it was. Objects keep their order in
//! both directions, so attributes come back as they were sent.

use std::fmt::{self, Write as _};

use kiseki_model::{AnyValue, Event, KeyValue, Link, SpanId, Str, TraceId};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::limits::{self, MAX_ATTRIBUTES, MAX_EVENTS, MAX_LINKS};

use super::wire::{DdSpanEvent, DdSpanLink};

/// Meta key of the JSON list of span events.
pub const EVENTS_KEY: &str = "events";
/// Meta key of the JSON list of span links.
pub const SPAN_LINKS_KEY: &str = "_dd.span_links";

/// Bit 31 of Datadog's link flags says the W3C flags in the low bits are set.
pub(crate) const LINK_FLAGS_SET: u32 = 1 << 31;

#[derive(Deserialize)]
struct JsonEvent {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    time_unix_nano: Option<u64>,
    #[serde(default)]
    attributes: Option<OrderedObject>,
    #[serde(default)]
    dropped_attributes_count: Option<u32>,
}

#[derive(Deserialize)]
struct JsonLink {
    trace_id: String,
    span_id: String,
    #[serde(default)]
    tracestate: Option<String>,
    #[serde(default)]
    attributes: Option<OrderedObject>,
    #[serde(default)]
    flags: Option<u32>,
    #[serde(default)]
    dropped_attributes_count: Option<u32>,
}

/// `[{"name", "time_unix_nano", "attributes": {...}, "dropped_attributes_count"}]`.
pub(crate) fn parse_events(text: &str) -> Option<Vec<Event>> {
    let items: Vec<JsonEvent> = serde_json::from_str(text).ok()?;
    if items.len() > MAX_EVENTS {
        return None;
    }
    items
        .into_iter()
        .map(|item| {
            Some(Event {
                time_unix_nano: item.time_unix_nano.unwrap_or(0),
                name: item.name.map(Str::from).unwrap_or_default(),
                attributes: attributes(item.attributes)?.into_iter().collect(),
                dropped_attributes_count: item.dropped_attributes_count.unwrap_or(0),
            })
        })
        .collect()
}

/// `[{"trace_id": 32 hex, "span_id": 16 hex, "tracestate", "attributes", "flags",
/// "dropped_attributes_count"}]`.
pub(crate) fn parse_links(text: &str) -> Option<Vec<Link>> {
    let items: Vec<JsonLink> = serde_json::from_str(text).ok()?;
    if items.len() > MAX_LINKS {
        return None;
    }
    items
        .into_iter()
        .map(|item| {
            Some(Link {
                trace_id: TraceId::from_hex(&item.trace_id).ok()?,
                span_id: SpanId::from_hex(&item.span_id).ok()?,
                trace_state: item.tracestate.map(Str::from).unwrap_or_default(),
                flags: item.flags.unwrap_or(0) & !LINK_FLAGS_SET,
                attributes: attributes(item.attributes)?.into_iter().collect(),
                dropped_attributes_count: item.dropped_attributes_count.unwrap_or(0),
            })
        })
        .collect()
}

fn attributes(object: Option<OrderedObject>) -> Option<Vec<KeyValue>> {
    let entries = object.map(|o| o.0).unwrap_or_default();
    if entries.len() > MAX_ATTRIBUTES {
        return None;
    }
    entries.iter().all(|kv| limits::check_value(&kv.value).is_ok()).then_some(entries)
}

/// A JSON object as key-value pairs in their order.
struct OrderedObject(Vec<KeyValue>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(JsonValueVisitor)? {
            AnyValue::Map(entries) => Ok(OrderedObject(entries)),
            AnyValue::Empty => Ok(OrderedObject(Vec::new())),
            _ => Err(de::Error::custom("attributes must be an object")),
        }
    }
}

/// JSON to a typed value: integers that fit `i64` are ints, other numbers doubles, objects maps.
struct JsonValueVisitor;

struct JsonAnyValue(AnyValue);

impl<'de> Deserialize<'de> for JsonAnyValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonValueVisitor).map(JsonAnyValue)
    }
}

impl<'de> Visitor<'de> for JsonValueVisitor {
    type Value = AnyValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<AnyValue, E> {
        Ok(AnyValue::Empty)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<AnyValue, E> {
        Ok(AnyValue::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<AnyValue, E> {
        Ok(AnyValue::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<AnyValue, E> {
        Ok(i64::try_from(value).map_or(AnyValue::Double(value as f64), AnyValue::Int))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<AnyValue, E> {
        Ok(AnyValue::Double(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<AnyValue, E> {
        Ok(AnyValue::Str(Str::new(value)))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<AnyValue, E> {
        Ok(AnyValue::Str(Str::from(value)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AnyValue, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonAnyValue(item)) = seq.next_element()? {
            if items.len() >= MAX_ATTRIBUTES {
                return Err(de::Error::custom("array too long"));
            }
            items.push(item);
        }
        Ok(AnyValue::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyValue, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, JsonAnyValue(value))) = map.next_entry::<String, JsonAnyValue>()? {
            if entries.len() >= MAX_ATTRIBUTES {
                return Err(de::Error::custom("object too large"));
            }
            entries.push(KeyValue { key: Str::from(key), value });
        }
        Ok(AnyValue::Map(entries))
    }
}

/// The JSON text for meta `events`.
pub(crate) fn write_events(events: &[DdSpanEvent]) -> String {
    let mut out = String::from("[");
    for (i, event) in events.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if event.time_unix_nano != 0 {
            let _ = write!(out, "\"time_unix_nano\":{},", event.time_unix_nano);
        }
        out.push_str("\"name\":");
        write_string(&mut out, &event.name);
        if !event.attributes.is_empty() {
            out.push_str(",\"attributes\":{");
            for (j, (key, value)) in event.attributes.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_string(&mut out, key);
                out.push(':');
                write_value(&mut out, value);
            }
            out.push('}');
        }
        out.push('}');
    }
    out.push(']');
    out
}

/// The JSON text for meta `_dd.span_links`.
pub(crate) fn write_links(links: &[DdSpanLink]) -> String {
    let mut out = String::from("[");
    for (i, link) in links.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let trace_id = (u128::from(link.trace_id_high) << 64) | u128::from(link.trace_id);
        let _ =
            write!(out, "{{\"trace_id\":\"{trace_id:032x}\",\"span_id\":\"{:016x}\"", link.span_id);
        if !link.tracestate.is_empty() {
            out.push_str(",\"tracestate\":");
            write_string(&mut out, &link.tracestate);
        }
        if !link.attributes.is_empty() {
            out.push_str(",\"attributes\":{");
            for (j, (key, value)) in link.attributes.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_string(&mut out, key);
                out.push(':');
                write_string(&mut out, value);
            }
            out.push('}');
        }
        if link.flags & LINK_FLAGS_SET != 0 {
            let _ = write!(out, ",\"flags\":{}", link.flags & !LINK_FLAGS_SET);
        }
        out.push('}');
    }
    out.push(']');
    out
}

fn write_string(out: &mut String, text: &str) {
    out.push_str(&Value::from(text).to_string());
}

/// A typed value as JSON; bytes as hex text, non-finite doubles as null (JSON has neither).
fn write_value(out: &mut String, value: &AnyValue) {
    match value {
        AnyValue::Empty => out.push_str("null"),
        AnyValue::Str(text) => write_string(out, text),
        AnyValue::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        AnyValue::Int(int) => {
            let _ = write!(out, "{int}");
        }
        AnyValue::Double(double) => match serde_json::Number::from_f64(*double) {
            Some(number) => {
                let _ = write!(out, "{number}");
            }
            None => out.push_str("null"),
        },
        AnyValue::Bytes(_) => write_string(out, &value.to_string()),
        AnyValue::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        AnyValue::Map(entries) => {
            out.push('{');
            for (i, kv) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, &kv.key);
                out.push(':');
                write_value(out, &kv.value);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_events_parse_with_types() {
        let text = r#"[{"name": "exception", "time_unix_nano": 1795308270410871624, "attributes": {"exception.type": "builtins.KeyError", "cache.tiers": ["l1", "l2"], "cache.attempt": 2, "cache.cold": true, "ratio": 0.5}}]"#;
        let events = parse_events(text).unwrap();
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.name, "exception");
        assert_eq!(event.time_unix_nano, 1_795_308_270_410_871_624);
        assert_eq!(event.attributes.get_str("exception.type"), Some("builtins.KeyError"));
        assert_eq!(event.attributes.get("cache.attempt"), Some(&AnyValue::Int(2)));
        assert_eq!(event.attributes.get("cache.cold"), Some(&AnyValue::Bool(true)));
        assert_eq!(event.attributes.get("ratio"), Some(&AnyValue::Double(0.5)));
        assert_eq!(
            event.attributes.get("cache.tiers"),
            Some(&AnyValue::Array(vec![AnyValue::from("l1"), AnyValue::from("l2")]))
        );
    }

    #[test]
    fn python_links_parse_with_128_bit_ids() {
        let text = r#"[{"trace_id": "6b023aec000000008f85844bfaee5e89", "span_id": "31ba19e0842fd960", "attributes": {"link.order": "1"}, "tracestate": "dd=s:2;t.dm:-4", "flags": 1}]"#;
        let links = parse_links(text).unwrap();
        assert_eq!(links[0].trace_id.to_string(), "6b023aec000000008f85844bfaee5e89");
        assert_eq!(links[0].span_id.to_string(), "31ba19e0842fd960");
        assert_eq!(links[0].trace_state, "dd=s:2;t.dm:-4");
        assert_eq!(links[0].flags, 1);
        assert_eq!(links[0].attributes.get_str("link.order"), Some("1"));
    }

    #[test]
    fn text_of_another_shape_is_not_taken() {
        assert!(parse_events("not json").is_none());
        assert!(parse_events(r#"{"name": "x"}"#).is_none());
        assert!(parse_events(r#"[{"name": 3}]"#).is_none());
        assert!(parse_events(r#"[{"attributes": [1]}]"#).is_none());
        assert!(parse_links(r#"[{"trace_id": "0", "span_id": "1"}]"#).is_none());
        assert!(parse_links(r#"[{"span_id": "1"}]"#).is_none());
        let deep =
            format!("[{{\"attributes\": {{\"a\": {}1{}}}}}]", "[".repeat(40), "]".repeat(40));
        assert!(parse_events(&deep).is_none());
        assert_eq!(parse_events("[]"), Some(Vec::new()));
    }

    #[test]
    fn attribute_order_survives_both_directions() {
        let event = DdSpanEvent {
            time_unix_nano: 5,
            name: "e\"vent".into(),
            attributes: vec![
                ("z".into(), AnyValue::Double(2.0)),
                (
                    "a".into(),
                    AnyValue::Map(vec![KeyValue::new("y", 1i64), KeyValue::new("b", "q")]),
                ),
                ("m".into(), AnyValue::Double(f64::NAN)),
            ],
        };
        let text = write_events(std::slice::from_ref(&event));
        assert_eq!(
            text,
            r#"[{"time_unix_nano":5,"name":"e\"vent","attributes":{"z":2.0,"a":{"y":1,"b":"q"},"m":null}}]"#
        );
        let parsed = parse_events(&text).unwrap();
        let keys: Vec<&str> = parsed[0].attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m"]);
        assert_eq!(parsed[0].attributes.get("z"), Some(&AnyValue::Double(2.0)));
        assert_eq!(parsed[0].attributes.get("m"), Some(&AnyValue::Empty));
    }
}
