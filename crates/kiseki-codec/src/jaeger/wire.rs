//! A Jaeger span as both Jaeger wire formats carry it, between the bytes and the model.
//!
//! Thrift and protobuf differ only in spelling (signed i64 ids or bytes, microseconds or
//! `Timestamp`); what the fields mean is the same. Decoders fill these structs and
//! [`super::to_model`] maps them into the model; [`super::from_model`] produces them for the
//! encoders and the query JSON. Tag values here are always scalars, as Jaeger's are.

use std::collections::HashMap;

use kiseki_model::{AnyValue, Attributes, KeyValue, SpanId, Str, TraceId};

use crate::limits::{self, LimitError};

/// Jaeger's `SpanRefType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefType {
    ChildOf,
    FollowsFrom,
}

impl RefType {
    /// Jaeger's enum number; numbers it does not define read as `FOLLOWS_FROM`, as the
    /// OpenTelemetry Collector reads them.
    pub(crate) fn from_number(number: i32) -> Self {
        if number == 0 { RefType::ChildOf } else { RefType::FollowsFrom }
    }

    pub(crate) fn number(self) -> i32 {
        match self {
            RefType::ChildOf => 0,
            RefType::FollowsFrom => 1,
        }
    }
}

/// A causal reference from one span to another (`SpanRef`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    pub ref_type: RefType,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

/// A timed set of fields (`Log`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Log {
    pub time_unix_nano: u64,
    pub fields: Attributes,
}

/// The service that emitted spans (`Process`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Process {
    pub service_name: Str,
    pub tags: Attributes,
}

/// One span as Jaeger describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JaegerSpan {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// Thrift's `parentSpanId`; protobuf carries the parent only as a `CHILD_OF` reference.
    pub parent_span_id: Option<SpanId>,
    pub operation_name: Str,
    pub references: Vec<Reference>,
    /// Bit 0 sampled, bit 1 debug.
    pub flags: u32,
    pub start_time_unix_nano: u64,
    pub end_time_unix_nano: u64,
    pub tags: Attributes,
    pub logs: Vec<Log>,
}

/// Jaeger's `flags` bits.
pub(crate) const FLAG_SAMPLED: u32 = 1;
pub(crate) const FLAG_DEBUG: u32 = 2;

/// Lists shorter than this are searched for duplicate keys by scanning; longer ones by index.
const LINEAR_SEARCH_MAX: usize = 16;

/// Builds an attribute list from tags in wire order: a repeated key keeps its first position
/// and its last value (what the OpenTelemetry Collector's map does), and the list is refused
/// once it would pass [`limits::MAX_ATTRIBUTES`].
#[derive(Debug, Default)]
pub(crate) struct TagSink {
    attributes: Attributes,
    index: HashMap<Str, usize>,
}

impl TagSink {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn insert(&mut self, key: Str, value: AnyValue) -> Result<(), LimitError> {
        if let Some(position) = self.position(&key) {
            if let Some(kv) = self.attributes.get_mut(position) {
                kv.value = value;
            }
            return Ok(());
        }
        limits::check_attribute_count(self.attributes.len())?;
        let position = self.attributes.len();
        if position == LINEAR_SEARCH_MAX {
            for (i, kv) in self.attributes.iter().enumerate() {
                self.index.insert(kv.key.clone(), i);
            }
        }
        if position >= LINEAR_SEARCH_MAX {
            self.index.insert(key.clone(), position);
        }
        self.attributes.push(key, value);
        Ok(())
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.attributes.len() > LINEAR_SEARCH_MAX {
            self.index.get(key).copied()
        } else {
            self.attributes.iter().position(|kv| kv.key == key)
        }
    }

    pub(crate) fn finish(self) -> Attributes {
        self.attributes
    }
}

/// Microseconds since the epoch (Thrift's unit) in nanoseconds, if the model can hold them.
pub(crate) fn micros_to_nanos(micros: i64) -> Option<u64> {
    u64::try_from(micros).ok()?.checked_mul(1000)
}

/// Nanoseconds in whole microseconds, rounded down.
pub(crate) fn nanos_to_micros(nanos: u64) -> i64 {
    // u64::MAX / 1000 is below i64::MAX, so this never wraps.
    (nanos / 1000) as i64
}

/// A time in nanoseconds computed in a wider type, if it is a time the model can hold.
pub(crate) fn nanos_in_range(nanos: i128) -> Option<u64> {
    u64::try_from(nanos).ok()
}

/// A value as a Jaeger tag can hold it: scalars unchanged, arrays and maps as JSON text (as the
/// OpenTelemetry Collector writes them), an empty value as an empty string.
pub(crate) fn scalar_tag_value(value: &AnyValue) -> AnyValue {
    match value {
        AnyValue::Str(_)
        | AnyValue::Bool(_)
        | AnyValue::Int(_)
        | AnyValue::Double(_)
        | AnyValue::Bytes(_) => value.clone(),
        AnyValue::Empty => AnyValue::Str(Str::default()),
        AnyValue::Array(_) | AnyValue::Map(_) => AnyValue::Str(json_text(value).into()),
    }
}

/// A value as JSON text; bytes as base64 and non-finite doubles as strings, as Go writes them.
pub(crate) fn json_text(value: &AnyValue) -> String {
    json_value(value).to_string()
}

fn json_value(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AnyValue::Empty => Value::Null,
        AnyValue::Str(s) => Value::String(s.to_string()),
        AnyValue::Bool(b) => Value::Bool(*b),
        AnyValue::Int(i) => Value::from(*i),
        AnyValue::Double(d) => double_json(*d),
        AnyValue::Bytes(bytes) => Value::String(base64(bytes)),
        AnyValue::Array(items) => Value::Array(items.iter().map(json_value).collect()),
        AnyValue::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|kv: &KeyValue| (kv.key.to_string(), json_value(&kv.value)))
                .collect(),
        ),
    }
}

/// A double as a JSON number, or as the text `NaN`, `+Inf` or `-Inf`, which JSON has no number for.
pub(crate) fn double_json(value: f64) -> serde_json::Value {
    match serde_json::Number::from_f64(value) {
        Some(number) => serde_json::Value::Number(number),
        None if value.is_nan() => "NaN".into(),
        None if value > 0.0 => "+Inf".into(),
        None => "-Inf".into(),
    }
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let triple = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((triple >> shift) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_tags_keep_first_position_and_last_value() {
        let mut sink = TagSink::new();
        sink.insert("a".into(), 1i64.into()).unwrap();
        sink.insert("b".into(), 2i64.into()).unwrap();
        sink.insert("a".into(), 3i64.into()).unwrap();
        let attributes = sink.finish();
        assert_eq!(attributes.len(), 2);
        assert_eq!(attributes[0], KeyValue::new("a", 3i64));
    }

    #[test]
    fn long_tag_lists_dedupe_through_the_index() {
        let mut sink = TagSink::new();
        for round in 0..2i64 {
            for i in 0..100 {
                sink.insert(format!("k{i}").into(), round.into()).unwrap();
            }
        }
        let attributes = sink.finish();
        assert_eq!(attributes.len(), 100);
        assert!(attributes.iter().all(|kv| kv.value == AnyValue::Int(1)));
        assert_eq!(attributes[99].key, "k99");
    }

    #[test]
    fn tag_lists_stop_at_the_limit() {
        let mut sink = TagSink::new();
        for i in 0..limits::MAX_ATTRIBUTES {
            sink.insert(format!("k{i}").into(), AnyValue::Bool(true)).unwrap();
        }
        // A repeated key is not a new attribute; a new one is past the limit.
        sink.insert("k0".into(), AnyValue::Bool(false)).unwrap();
        assert!(sink.insert("new".into(), AnyValue::Bool(true)).is_err());
    }

    #[test]
    fn times_convert_without_overflow() {
        assert_eq!(micros_to_nanos(1_700_000_000_000_000), Some(1_700_000_000_000_000_000));
        assert_eq!(micros_to_nanos(-1), None);
        assert_eq!(micros_to_nanos(i64::MAX), None);
        assert_eq!(nanos_to_micros(u64::MAX), 18_446_744_073_709_551);
        assert_eq!(nanos_in_range(-1), None);
        assert_eq!(nanos_in_range(i128::from(u64::MAX) + 1), None);
    }

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[0, 0, 0x30, 0x39]), "AAAwOQ==");
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn arrays_and_maps_become_json_text() {
        let array = AnyValue::Array(vec!["a".into(), AnyValue::Int(1), AnyValue::Double(0.5)]);
        assert_eq!(scalar_tag_value(&array), AnyValue::from(r#"["a",1,0.5]"#));
        let map = AnyValue::Map(vec![
            KeyValue::new("z", AnyValue::Bytes(vec![1])),
            KeyValue::new("a", f64::NAN),
        ]);
        assert_eq!(json_text(&map), r#"{"a":"NaN","z":"AQ=="}"#);
        assert_eq!(scalar_tag_value(&AnyValue::Empty), AnyValue::from(""));
    }
}
