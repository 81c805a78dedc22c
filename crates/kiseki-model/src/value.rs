//! Typed attribute values and the string type used throughout the model.

use std::borrow::Borrow;
use std::fmt;
use std::ops::{Deref, DerefMut};

use smol_str::SmolStr;

/// An immutable string that is cheap to clone and does not allocate when short.
///
/// Attribute keys and most values are short and repeated in every span, so strings of up to
/// 23 bytes live inline; longer ones are shared by reference count.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(SmolStr);

impl Str {
    pub const fn from_static(text: &'static str) -> Self {
        Self(SmolStr::new_static(text))
    }

    pub fn new(text: &str) -> Self {
        Self(SmolStr::new(text))
    }

    /// Validates UTF-8; protocol decoders use this so invalid text becomes their error.
    pub fn from_utf8(bytes: &[u8]) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(bytes).map(Self::new)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl From<&str> for Str {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Str {
    fn from(text: String) -> Self {
        Self(SmolStr::from(text))
    }
}

impl From<&String> for Str {
    fn from(text: &String) -> Self {
        Self::new(text)
    }
}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Str {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An attribute value, as OpenTelemetry's `AnyValue`.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyValue {
    /// A value that was sent without content (OTLP allows it).
    Empty,
    Str(Str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<AnyValue>),
    Map(Vec<KeyValue>),
}

impl AnyValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AnyValue::Str(s) => Some(s.as_str()),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AnyValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AnyValue::Double(v) => Some(*v),
            AnyValue::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AnyValue::Bool(v) => Some(*v),
            _ => None,
        }
    }

    /// How deep arrays and maps nest inside this value; a scalar has depth 0.
    pub fn depth(&self) -> usize {
        match self {
            AnyValue::Array(items) => 1 + items.iter().map(AnyValue::depth).max().unwrap_or(0),
            AnyValue::Map(entries) => {
                1 + entries.iter().map(|kv| kv.value.depth()).max().unwrap_or(0)
            }
            _ => 0,
        }
    }
}

impl fmt::Display for AnyValue {
    /// The value as a person reads it; arrays and maps in a JSON-like form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnyValue::Empty => Ok(()),
            AnyValue::Str(s) => f.write_str(s),
            AnyValue::Bool(v) => write!(f, "{v}"),
            AnyValue::Int(v) => write!(f, "{v}"),
            AnyValue::Double(v) => write!(f, "{v}"),
            AnyValue::Bytes(bytes) => {
                for byte in bytes {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
            AnyValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    match item {
                        AnyValue::Str(s) => write!(f, "{:?}", s.as_str())?,
                        other => write!(f, "{other}")?,
                    }
                }
                f.write_str("]")
            }
            AnyValue::Map(entries) => {
                f.write_str("{")?;
                for (i, kv) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    match &kv.value {
                        AnyValue::Str(s) => write!(f, "{:?}:{:?}", kv.key.as_str(), s.as_str())?,
                        other => write!(f, "{:?}:{other}", kv.key.as_str())?,
                    }
                }
                f.write_str("}")
            }
        }
    }
}

impl From<&str> for AnyValue {
    fn from(v: &str) -> Self {
        AnyValue::Str(Str::new(v))
    }
}

impl From<String> for AnyValue {
    fn from(v: String) -> Self {
        AnyValue::Str(Str::from(v))
    }
}

impl From<Str> for AnyValue {
    fn from(v: Str) -> Self {
        AnyValue::Str(v)
    }
}

impl From<bool> for AnyValue {
    fn from(v: bool) -> Self {
        AnyValue::Bool(v)
    }
}

impl From<i64> for AnyValue {
    fn from(v: i64) -> Self {
        AnyValue::Int(v)
    }
}

impl From<f64> for AnyValue {
    fn from(v: f64) -> Self {
        AnyValue::Double(v)
    }
}

/// One attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    pub key: Str,
    pub value: AnyValue,
}

impl KeyValue {
    pub fn new(key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        Self { key: key.into(), value: value.into() }
    }
}

/// An ordered list of attributes. Keys are expected to be unique; lookups return the first match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes(pub Vec<KeyValue>);

impl Attributes {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    pub fn get(&self, key: &str) -> Option<&AnyValue> {
        self.0.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(AnyValue::as_str)
    }

    /// Appends without checking for an existing key (decoders know their keys are new).
    pub fn push(&mut self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        self.0.push(KeyValue::new(key, value));
    }

    /// Replaces the value of an existing key, or appends it.
    pub fn set(&mut self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        let key = key.into();
        let value = value.into();
        match self.0.iter_mut().find(|kv| kv.key == key) {
            Some(kv) => kv.value = value,
            None => self.0.push(KeyValue { key, value }),
        }
    }

    /// Removes a key and returns its value.
    pub fn remove(&mut self, key: &str) -> Option<AnyValue> {
        let index = self.0.iter().position(|kv| kv.key == key)?;
        Some(self.0.remove(index).value)
    }
}

impl Deref for Attributes {
    type Target = Vec<KeyValue>;
    fn deref(&self) -> &Vec<KeyValue> {
        &self.0
    }
}

impl DerefMut for Attributes {
    fn deref_mut(&mut self) -> &mut Vec<KeyValue> {
        &mut self.0
    }
}

impl FromIterator<KeyValue> for Attributes {
    fn from_iter<I: IntoIterator<Item = KeyValue>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Attributes {
    type Item = &'a KeyValue;
    type IntoIter = std::slice::Iter<'a, KeyValue>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_compare_with_str() {
        let s = Str::from("http.route");
        assert_eq!(s, "http.route");
        assert_eq!(Str::from_static("x").as_str(), "x");
        assert!(Str::from_utf8(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn set_replaces_and_get_finds_first() {
        let mut attrs = Attributes::new();
        attrs.push("a", 1i64);
        attrs.set("a", "two");
        attrs.set("b", true);
        assert_eq!(attrs.get_str("a"), Some("two"));
        assert_eq!(attrs.get("b"), Some(&AnyValue::Bool(true)));
        assert_eq!(attrs.remove("a"), Some(AnyValue::from("two")));
        assert_eq!(attrs.len(), 1);
    }

    #[test]
    fn depth_counts_nesting() {
        let nested = AnyValue::Array(vec![AnyValue::Map(vec![KeyValue::new("k", 1i64)])]);
        assert_eq!(nested.depth(), 2);
        assert_eq!(AnyValue::Int(1).depth(), 0);
        assert_eq!(nested.to_string(), "[{\"k\":1}]");
    }
}
