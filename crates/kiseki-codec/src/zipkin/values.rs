//! Attribute values in the places Zipkin keeps them as text: JSON inside annotations, tag strings
//! and base64 bytes.

use std::fmt;

use kiseki_model::{AnyValue, KeyValue, Str};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON string read straight into the model's string type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonStr(pub Str);

impl<'de> Deserialize<'de> for JsonStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl Visitor<'_> for StrVisitor {
            type Value = JsonStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonStr, E> {
                Ok(JsonStr(Str::new(v)))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<JsonStr, E> {
                Ok(JsonStr(Str::from(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// Any JSON value as an attribute value; objects keep their key order.
///
/// Integers become `Int` (above `i64::MAX`, `Double`), numbers with a fraction or exponent
/// `Double`, `null` `Empty`. Nesting is bounded by serde_json's recursion limit while reading;
/// callers check the model's depth limit afterwards.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonValue(pub AnyValue);

impl<'de> Deserialize<'de> for JsonValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = JsonValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<JsonValue, E> {
        Ok(JsonValue(AnyValue::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<JsonValue, E> {
        Ok(JsonValue(AnyValue::Int(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<JsonValue, E> {
        Ok(JsonValue(match i64::try_from(v) {
            Ok(v) => AnyValue::Int(v),
            Err(_) => AnyValue::Double(v as f64),
        }))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<JsonValue, E> {
        Ok(JsonValue(AnyValue::Double(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonValue, E> {
        Ok(JsonValue(AnyValue::Str(Str::new(v))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<JsonValue, E> {
        Ok(JsonValue(AnyValue::Str(Str::from(v))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<JsonValue, E> {
        Ok(JsonValue(AnyValue::Empty))
    }
    fn visit_none<E: de::Error>(self) -> Result<JsonValue, E> {
        Ok(JsonValue(AnyValue::Empty))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonValue, A::Error> {
        let mut items = Vec::new();
        while let Some(JsonValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(JsonValue(AnyValue::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonValue, A::Error> {
        Ok(JsonValue(AnyValue::Map(read_entries(&mut map)?)))
    }
}

fn read_entries<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<KeyValue>, A::Error> {
    let mut entries = Vec::new();
    while let Some((JsonStr(key), JsonValue(value))) = map.next_entry()? {
        entries.push(KeyValue { key, value });
    }
    Ok(entries)
}

/// A JSON object read as an ordered attribute list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonObject(pub Vec<KeyValue>);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = JsonObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
                read_entries(&mut map).map(JsonObject)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Writes an attribute value as JSON: bytes as base64 text, non-finite doubles as `null`.
pub(crate) struct JsonOut<'a>(pub &'a AnyValue);

impl Serialize for JsonOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            AnyValue::Empty => serializer.serialize_unit(),
            AnyValue::Str(s) => serializer.serialize_str(s),
            AnyValue::Bool(v) => serializer.serialize_bool(*v),
            AnyValue::Int(v) => serializer.serialize_i64(*v),
            AnyValue::Double(v) => serializer.serialize_f64(*v),
            AnyValue::Bytes(bytes) => serializer.serialize_str(&base64_encode(bytes)),
            AnyValue::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&JsonOut(item))?;
                }
                seq.end()
            }
            AnyValue::Map(entries) => JsonObjectOut(entries).serialize(serializer),
        }
    }
}

/// Writes an attribute list as a JSON object, in order.
pub(crate) struct JsonObjectOut<'a>(pub &'a [KeyValue]);

impl Serialize for JsonObjectOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for kv in self.0 {
            map.serialize_entry(kv.key.as_str(), &JsonOut(&kv.value))?;
        }
        map.end()
    }
}

/// JSON text of a value that cannot fail to serialize (string keys, no custom errors).
pub(crate) fn to_json_text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// A non-string attribute as the text of a Zipkin tag, as OpenTelemetry's exporters write it:
/// numbers and booleans as their literal, bytes in base64, arrays and maps as JSON.
pub(crate) fn tag_text(value: &AnyValue) -> String {
    match value {
        AnyValue::Empty => String::new(),
        AnyValue::Str(s) => s.to_string(),
        AnyValue::Bool(v) => v.to_string(),
        AnyValue::Int(v) => v.to_string(),
        AnyValue::Double(v) => v.to_string(),
        AnyValue::Bytes(bytes) => base64_encode(bytes),
        AnyValue::Array(_) | AnyValue::Map(_) => to_json_text(&JsonOut(value)),
    }
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(BASE64_ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64, padding optional; `None` for any other character or a dangling bit group.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits = text.trim_end_matches('=').as_bytes();
    if text.len() - digits.len() > 2 || digits.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &c in digits {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_keep_types_and_key_order() {
        let JsonValue(value) = serde_json::from_str(
            r#"{"z":1,"a":0.5,"m":[true,"x",null],"big":18446744073709551615}"#,
        )
        .unwrap();
        let AnyValue::Map(entries) = value else { panic!("not a map") };
        let keys: Vec<&str> = entries.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m", "big"]);
        assert_eq!(entries[0].value, AnyValue::Int(1));
        assert_eq!(entries[1].value, AnyValue::Double(0.5));
        assert_eq!(
            entries[2].value,
            AnyValue::Array(vec![AnyValue::Bool(true), AnyValue::from("x"), AnyValue::Empty])
        );
        assert_eq!(entries[3].value, AnyValue::Double(u64::MAX as f64));
    }

    #[test]
    fn json_out_round_trips_through_json_value() {
        let value = AnyValue::Map(vec![
            KeyValue::new("b", 2.0),
            KeyValue::new("a", AnyValue::Array(vec![AnyValue::Int(-1), AnyValue::Empty])),
        ]);
        let text = to_json_text(&JsonOut(&value));
        assert_eq!(text, r#"{"b":2.0,"a":[-1,null]}"#);
        let JsonValue(back) = serde_json::from_str(&text).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn tag_text_is_what_otel_exporters_write() {
        assert_eq!(tag_text(&AnyValue::Bool(true)), "true");
        assert_eq!(tag_text(&AnyValue::Int(-7)), "-7");
        assert_eq!(tag_text(&AnyValue::Double(129.95)), "129.95");
        assert_eq!(tag_text(&AnyValue::Bytes(vec![0xff, 0])), "/wA=");
        let array = AnyValue::Array(vec![AnyValue::from("sku-1"), AnyValue::from("sku-ü")]);
        assert_eq!(tag_text(&array), r#"["sku-1","sku-ü"]"#);
    }

    #[test]
    fn base64_round_trips_and_rejects_garbage() {
        for len in 0..10u8 {
            let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let text = base64_encode(&bytes);
            assert_eq!(base64_decode(&text), Some(bytes.clone()));
            assert_eq!(base64_decode(text.trim_end_matches('=')), Some(bytes));
        }
        assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_decode("Zg=="), Some(b"f".to_vec()));
        assert_eq!(base64_decode("Z"), None);
        assert_eq!(base64_decode("Zm9v!"), None);
        assert_eq!(base64_decode("Zg==="), None);
    }
}
