//! Events and links that travel as JSON text in meta: `events` (what tracers send when the agent
//! does not take native span events, and what Datadog's OTLP mapping writes) and
//! `_dd.span_links` (v0.5 has no links field).
//!
//! Reading is lenient about the text but all-or-nothing: JSON that does not have the expected
//! shape, or exceeds a limit, is left in meta as the string it was.

use kiseki_model::{AnyValue, Event, KeyValue, Link, SpanId, Str, TraceId};
use serde_json::{Map, Value};

use crate::limits::{MAX_ATTRIBUTES, MAX_EVENTS, MAX_LINKS, MAX_VALUE_DEPTH};

use super::wire::{DdSpanEvent, DdSpanLink};

/// Meta key of the JSON list of span events.
pub const EVENTS_KEY: &str = "events";
/// Meta key of the JSON list of span links.
pub const SPAN_LINKS_KEY: &str = "_dd.span_links";

/// Bit 31 of Datadog's link flags says the W3C flags in the low bits are set.
pub(crate) const LINK_FLAGS_SET: u32 = 1 << 31;

/// `[{"name", "time_unix_nano", "attributes": {...}, "dropped_attributes_count"}]`.
pub(crate) fn parse_events(text: &str) -> Option<Vec<Event>> {
    let Value::Array(items) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    if items.len() > MAX_EVENTS {
        return None;
    }
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut fields) = item else { return None };
            Some(Event {
                time_unix_nano: fields.get("time_unix_nano").map_or(Some(0), Value::as_u64)?,
                name: match fields.remove("name") {
                    None | Some(Value::Null) => Str::default(),
                    Some(Value::String(name)) => Str::from(name),
                    Some(_) => return None,
                },
                attributes: parse_attributes(fields.remove("attributes"))?.into_iter().collect(),
                dropped_attributes_count: dropped_count(&fields)?,
            })
        })
        .collect()
}

/// `[{"trace_id": 32 hex, "span_id": 16 hex, "tracestate", "attributes", "flags",
/// "dropped_attributes_count"}]`.
pub(crate) fn parse_links(text: &str) -> Option<Vec<Link>> {
    let Value::Array(items) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    if items.len() > MAX_LINKS {
        return None;
    }
    items
        .into_iter()
        .map(|item| {
            let Value::Object(mut fields) = item else { return None };
            let flags = fields.get("flags").map_or(Some(0), Value::as_u64)?;
            Some(Link {
                trace_id: TraceId::from_hex(fields.get("trace_id")?.as_str()?).ok()?,
                span_id: SpanId::from_hex(fields.get("span_id")?.as_str()?).ok()?,
                trace_state: match fields.remove("tracestate") {
                    None | Some(Value::Null) => Str::default(),
                    Some(Value::String(state)) => Str::from(state),
                    Some(_) => return None,
                },
                flags: u32::try_from(flags).ok()? & !LINK_FLAGS_SET,
                attributes: parse_attributes(fields.remove("attributes"))?.into_iter().collect(),
                dropped_attributes_count: dropped_count(&fields)?,
            })
        })
        .collect()
}

fn dropped_count(fields: &Map<String, Value>) -> Option<u32> {
    let count = fields.get("dropped_attributes_count").map_or(Some(0), Value::as_u64)?;
    u32::try_from(count).ok()
}

fn parse_attributes(value: Option<Value>) -> Option<Vec<KeyValue>> {
    match value {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Object(entries)) if entries.len() <= MAX_ATTRIBUTES => entries
            .into_iter()
            .map(|(key, value)| {
                Some(KeyValue { key: Str::from(key), value: json_to_value(value, 0)? })
            })
            .collect(),
        Some(_) => None,
    }
}

/// JSON to a typed value: integers that fit `i64` are ints, other numbers doubles.
fn json_to_value(value: Value, depth: usize) -> Option<AnyValue> {
    Some(match value {
        Value::Null => AnyValue::Empty,
        Value::Bool(flag) => AnyValue::Bool(flag),
        Value::Number(number) => match number.as_i64() {
            Some(int) => AnyValue::Int(int),
            None => AnyValue::Double(number.as_f64()?),
        },
        Value::String(text) => AnyValue::Str(Str::from(text)),
        Value::Array(items) => {
            if depth >= MAX_VALUE_DEPTH || items.len() > MAX_ATTRIBUTES {
                return None;
            }
            AnyValue::Array(
                items
                    .into_iter()
                    .map(|item| json_to_value(item, depth + 1))
                    .collect::<Option<_>>()?,
            )
        }
        Value::Object(entries) => {
            if depth >= MAX_VALUE_DEPTH || entries.len() > MAX_ATTRIBUTES {
                return None;
            }
            AnyValue::Map(
                entries
                    .into_iter()
                    .map(|(key, value)| {
                        Some(KeyValue {
                            key: Str::from(key),
                            value: json_to_value(value, depth + 1)?,
                        })
                    })
                    .collect::<Option<_>>()?,
            )
        }
    })
}

/// The JSON text for meta `events`.
pub(crate) fn write_events(events: &[DdSpanEvent]) -> String {
    let items = events
        .iter()
        .map(|event| {
            let mut fields = Map::new();
            if event.time_unix_nano != 0 {
                fields.insert("time_unix_nano".into(), Value::from(event.time_unix_nano));
            }
            fields.insert("name".into(), Value::from(event.name.as_str()));
            if !event.attributes.is_empty() {
                let attributes = event
                    .attributes
                    .iter()
                    .map(|(key, value)| (key.to_string(), value_to_json(value)))
                    .collect();
                fields.insert("attributes".into(), Value::Object(attributes));
            }
            Value::Object(fields)
        })
        .collect();
    Value::Array(items).to_string()
}

/// The JSON text for meta `_dd.span_links`.
pub(crate) fn write_links(links: &[DdSpanLink]) -> String {
    let items = links
        .iter()
        .map(|link| {
            let mut fields = Map::new();
            let trace_id = (u128::from(link.trace_id_high) << 64) | u128::from(link.trace_id);
            fields.insert("trace_id".into(), Value::from(format!("{trace_id:032x}")));
            fields.insert("span_id".into(), Value::from(format!("{:016x}", link.span_id)));
            if !link.tracestate.is_empty() {
                fields.insert("tracestate".into(), Value::from(link.tracestate.as_str()));
            }
            if !link.attributes.is_empty() {
                let attributes = link
                    .attributes
                    .iter()
                    .map(|(key, value)| (key.to_string(), Value::from(value.as_str())))
                    .collect();
                fields.insert("attributes".into(), Value::Object(attributes));
            }
            let flags = link.flags & !LINK_FLAGS_SET;
            if link.flags & LINK_FLAGS_SET != 0 {
                fields.insert("flags".into(), Value::from(flags));
            }
            Value::Object(fields)
        })
        .collect();
    Value::Array(items).to_string()
}

/// A typed value as JSON; bytes as hex text, non-finite doubles as null (JSON has neither).
fn value_to_json(value: &AnyValue) -> Value {
    match value {
        AnyValue::Empty => Value::Null,
        AnyValue::Str(text) => Value::from(text.as_str()),
        AnyValue::Bool(flag) => Value::from(*flag),
        AnyValue::Int(int) => Value::from(*int),
        AnyValue::Double(double) => {
            serde_json::Number::from_f64(*double).map_or(Value::Null, Value::Number)
        }
        AnyValue::Bytes(_) => Value::from(value.to_string()),
        AnyValue::Array(items) => Value::Array(items.iter().map(value_to_json).collect()),
        AnyValue::Map(entries) => Value::Object(
            entries.iter().map(|kv| (kv.key.to_string(), value_to_json(&kv.value))).collect(),
        ),
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
        assert!(parse_links(r#"[{"trace_id": "0", "span_id": "1"}]"#).is_none());
        assert!(parse_links(r#"[{"span_id": "1"}]"#).is_none());
        let deep =
            format!("[{{\"attributes\": {{\"a\": {}1{}}}}}]", "[".repeat(40), "]".repeat(40));
        assert!(parse_events(&deep).is_none());
        assert_eq!(parse_events("[]"), Some(Vec::new()));
    }
}
