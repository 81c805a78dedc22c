//! Span events carried in Zipkin annotations, whose only field is a string.
//!
//! Tracers put an event's attributes into that string in one of three ways:
//! - `{"name": {"key": value, ...}}`, a JSON object of one entry (OpenTelemetry Python's exporter);
//! - `name|{"key": value, ...}|dropped` (the OpenTelemetry Collector's exporter);
//! - the bare name (zipkin-js, OpenTelemetry JS, Brave, and every annotation without attributes).

use kiseki_model::{AnyValue, KeyValue, Str};

use super::values::{JsonObject, JsonObjectOut, to_json_text};

/// An event read from an annotation value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AnnotationEvent {
    pub name: Str,
    pub attributes: Vec<KeyValue>,
    pub dropped_attributes_count: u32,
}

impl AnnotationEvent {
    fn bare(name: &Str) -> Self {
        Self { name: name.clone(), attributes: Vec::new(), dropped_attributes_count: 0 }
    }
}

/// Reads an annotation value in whichever of the three forms it has. A value that only looks
/// like one of the structured forms but does not parse is a bare name, kept as sent.
pub(crate) fn parse_annotation(value: &Str) -> AnnotationEvent {
    parse_single_entry_object(value)
        .or_else(|| parse_collector_form(value))
        .unwrap_or_else(|| AnnotationEvent::bare(value))
}

fn parse_single_entry_object(value: &str) -> Option<AnnotationEvent> {
    if !value.starts_with('{') {
        return None;
    }
    let JsonObject(mut entries) = serde_json::from_str(value).ok()?;
    if entries.len() != 1 {
        return None;
    }
    let entry = entries.pop()?;
    match entry.value {
        AnyValue::Map(attributes) => {
            Some(AnnotationEvent { name: entry.key, attributes, dropped_attributes_count: 0 })
        }
        _ => None,
    }
}

fn parse_collector_form(value: &str) -> Option<AnnotationEvent> {
    let (name, rest) = value.split_once('|')?;
    let (json, dropped) = rest.rsplit_once('|')?;
    let dropped_attributes_count = dropped.parse::<u32>().ok()?;
    let JsonObject(attributes) = serde_json::from_str(json).ok()?;
    Some(AnnotationEvent { name: Str::new(name), attributes, dropped_attributes_count })
}

/// Writes an event as an annotation value that [`parse_annotation`] reads back: the bare name
/// when there is nothing else to carry, `{"name": {attrs}}` otherwise, and the Collector's
/// `name|{attrs}|dropped` form when attributes were dropped (the only form that says so).
pub(crate) fn annotation_value(event: &AnnotationEvent) -> Str {
    if event.attributes.is_empty() && event.dropped_attributes_count == 0 {
        let bare_is_unambiguous = !(event.name.starts_with('{') || event.name.contains('|'))
            || parse_annotation(&event.name) == *event;
        if bare_is_unambiguous {
            return event.name.clone();
        }
    }
    if event.dropped_attributes_count > 0 {
        let json = to_json_text(&JsonObjectOut(&event.attributes));
        let text = Str::from(format!("{}|{json}|{}", event.name, event.dropped_attributes_count));
        if parse_annotation(&text) == *event {
            return text;
        }
    }
    Str::from(to_json_text(&SingleEntry(event)))
}

struct SingleEntry<'a>(&'a AnnotationEvent);

impl serde::Serialize for SingleEntry<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.0.name.as_str(), &JsonObjectOut(&self.0.attributes))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, attributes: Vec<KeyValue>, dropped: u32) -> AnnotationEvent {
        AnnotationEvent { name: Str::new(name), attributes, dropped_attributes_count: dropped }
    }

    #[test]
    fn reads_the_three_forms() {
        let python = Str::new(r#"{"cache.miss": {"cache.attempt": 2, "cache.tiers": ["l1"]}}"#);
        assert_eq!(
            parse_annotation(&python),
            event(
                "cache.miss",
                vec![
                    KeyValue::new("cache.attempt", 2i64),
                    KeyValue::new("cache.tiers", AnyValue::Array(vec![AnyValue::from("l1")])),
                ],
                0
            )
        );
        let collector = Str::new(r#"retry|{"attempt":3,"why":"a|b"}|2"#);
        assert_eq!(
            parse_annotation(&collector),
            event("retry", vec![KeyValue::new("attempt", 3i64), KeyValue::new("why", "a|b")], 2)
        );
        assert_eq!(parse_annotation(&Str::new("wr")), event("wr", vec![], 0));
    }

    #[test]
    fn values_that_only_look_structured_stay_names() {
        for text in
            [r#"{"a": 1}"#, r#"{"a": {}, "b": {}}"#, "{not json", "a|b", "a|{}|x", "a|[1]|0", ""]
        {
            assert_eq!(parse_annotation(&Str::new(text)), event(text, vec![], 0), "{text}");
        }
    }

    #[test]
    fn writing_then_reading_gives_the_event_back() {
        let cases = [
            event("plain", vec![], 0),
            event("with attrs", vec![KeyValue::new("k", 1.5), KeyValue::new("a", true)], 0),
            event("dropped", vec![KeyValue::new("k", "v")], 3),
            event("pipe|name", vec![], 4),
            event(r#"{"looks": {}}"#, vec![], 0),
            event("a|{}|0", vec![], 0),
            event("", vec![], 0),
        ];
        for case in cases {
            let value = annotation_value(&case);
            assert_eq!(
                parse_annotation(&value),
                if case.name.contains('|') && case.dropped_attributes_count > 0 {
                    // The Collector's form cannot carry a name with `|`; the count is lost.
                    event(&case.name, vec![], 0)
                } else {
                    case.clone()
                },
                "{value}"
            );
        }
        assert_eq!(annotation_value(&event("ws", vec![], 0)), "ws");
        assert_eq!(
            annotation_value(&event("e", vec![KeyValue::new("k", 1i64)], 0)),
            r#"{"e":{"k":1}}"#
        );
    }
}
