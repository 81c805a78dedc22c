//! The compact binary form of attribute values, attribute lists, resources, scopes and links,
//! used inside a block where Parquet's typed columns do not fit (values of rare keys, nested
//! values, the per-block resource table) and by the block index.
//!
//! Integers are LEB128 varints (signed ones zig-zagged), strings are a length and UTF-8 bytes.
//! Every read is bounds-checked and fails with [`Corrupt`] instead of panicking.

use kiseki_model::{AnyValue, Attributes, KeyValue, Link, Resource, Scope, SpanId, Str, TraceId};

/// Deepest nesting of arrays and maps a reader accepts; OTLP values are never near this deep.
const MAX_VALUE_DEPTH: usize = 64;

/// Bytes that do not decode as what they should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Corrupt(pub String);

impl Corrupt {
    pub fn new(what: impl Into<String>) -> Self {
        Self(what.into())
    }
}

/// The type of a value, written before it when the reader cannot know it otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ValueTag {
    Empty = 0,
    Str = 1,
    Bool = 2,
    Int = 3,
    Double = 4,
    Bytes = 5,
    Array = 6,
    Map = 7,
}

impl ValueTag {
    pub fn of(value: &AnyValue) -> Self {
        match value {
            AnyValue::Empty => ValueTag::Empty,
            AnyValue::Str(_) => ValueTag::Str,
            AnyValue::Bool(_) => ValueTag::Bool,
            AnyValue::Int(_) => ValueTag::Int,
            AnyValue::Double(_) => ValueTag::Double,
            AnyValue::Bytes(_) => ValueTag::Bytes,
            AnyValue::Array(_) => ValueTag::Array,
            AnyValue::Map(_) => ValueTag::Map,
        }
    }

    pub fn from_byte(byte: u8) -> Result<Self, Corrupt> {
        Ok(match byte {
            0 => ValueTag::Empty,
            1 => ValueTag::Str,
            2 => ValueTag::Bool,
            3 => ValueTag::Int,
            4 => ValueTag::Double,
            5 => ValueTag::Bytes,
            6 => ValueTag::Array,
            7 => ValueTag::Map,
            other => return Err(Corrupt(format!("unknown value tag {other}"))),
        })
    }
}

pub fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

pub fn put_zigzag(buf: &mut Vec<u8>, value: i64) {
    put_varint(buf, ((value << 1) ^ (value >> 63)) as u64);
}

pub fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(buf, bytes.len() as u64);
    buf.extend_from_slice(bytes);
}

pub fn put_str(buf: &mut Vec<u8>, text: &str) {
    put_bytes(buf, text.as_bytes());
}

/// Writes a value without its tag; the reader must know the tag.
pub fn put_payload(buf: &mut Vec<u8>, value: &AnyValue) {
    match value {
        AnyValue::Empty => {}
        AnyValue::Str(s) => put_str(buf, s),
        AnyValue::Bool(b) => buf.push(u8::from(*b)),
        AnyValue::Int(i) => put_zigzag(buf, *i),
        AnyValue::Double(d) => buf.extend_from_slice(&d.to_bits().to_le_bytes()),
        AnyValue::Bytes(bytes) => put_bytes(buf, bytes),
        AnyValue::Array(items) => {
            put_varint(buf, items.len() as u64);
            for item in items {
                put_value(buf, item);
            }
        }
        AnyValue::Map(entries) => put_key_values(buf, entries),
    }
}

/// Writes a value with its tag.
pub fn put_value(buf: &mut Vec<u8>, value: &AnyValue) {
    buf.push(ValueTag::of(value) as u8);
    put_payload(buf, value);
}

/// Writes a list of attributes with their keys and tags.
pub fn put_key_values(buf: &mut Vec<u8>, entries: &[KeyValue]) {
    put_varint(buf, entries.len() as u64);
    for kv in entries {
        put_str(buf, &kv.key);
        put_value(buf, &kv.value);
    }
}

pub fn put_resource(buf: &mut Vec<u8>, resource: &Resource) {
    put_key_values(buf, &resource.attributes);
    put_varint(buf, u64::from(resource.dropped_attributes_count));
}

pub fn put_scope(buf: &mut Vec<u8>, scope: &Scope) {
    put_str(buf, &scope.name);
    put_str(buf, &scope.version);
    put_key_values(buf, &scope.attributes);
    put_varint(buf, u64::from(scope.dropped_attributes_count));
}

pub fn put_links(buf: &mut Vec<u8>, links: &[Link]) {
    put_varint(buf, links.len() as u64);
    for link in links {
        buf.extend_from_slice(&link.trace_id.to_bytes());
        buf.extend_from_slice(&link.span_id.to_bytes());
        put_str(buf, &link.trace_state);
        put_varint(buf, u64::from(link.flags));
        put_key_values(buf, &link.attributes);
        put_varint(buf, u64::from(link.dropped_attributes_count));
    }
}

/// Reads what the `put_*` functions wrote, failing on anything malformed.
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Fails unless everything was read.
    pub fn finish(&self, what: &str) -> Result<(), Corrupt> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Corrupt(format!("{} bytes left over after {what}", self.remaining())))
        }
    }

    pub fn byte(&mut self) -> Result<u8, Corrupt> {
        let byte = *self.bytes.get(self.pos).ok_or_else(|| Corrupt::new("value cut short"))?;
        self.pos += 1;
        Ok(byte)
    }

    pub fn take(&mut self, len: usize) -> Result<&'a [u8], Corrupt> {
        let end = self.pos.checked_add(len).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or_else(|| Corrupt::new("value cut short"))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Corrupt> {
        let slice = self.take(N)?;
        let mut array = [0u8; N];
        array.copy_from_slice(slice);
        Ok(array)
    }

    pub fn varint(&mut self) -> Result<u64, Corrupt> {
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Corrupt::new("varint longer than 10 bytes"))
    }

    pub fn varint_u32(&mut self) -> Result<u32, Corrupt> {
        u32::try_from(self.varint()?).map_err(|_| Corrupt::new("number too large for 32 bits"))
    }

    pub fn zigzag(&mut self) -> Result<i64, Corrupt> {
        let raw = self.varint()?;
        Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
    }

    /// A count of items that each take at least one byte: never more than the bytes left.
    pub fn count(&mut self) -> Result<usize, Corrupt> {
        let count = self.varint()?;
        usize::try_from(count)
            .ok()
            .filter(|&count| count <= self.remaining())
            .ok_or_else(|| Corrupt(format!("count {count} exceeds the bytes left")))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
        let len = self.count()?;
        self.take(len)
    }

    pub fn str(&mut self) -> Result<Str, Corrupt> {
        Str::from_utf8(self.bytes()?).map_err(|_| Corrupt::new("text is not UTF-8"))
    }

    pub fn payload(&mut self, tag: ValueTag) -> Result<AnyValue, Corrupt> {
        self.payload_at_depth(tag, 0)
    }

    fn payload_at_depth(&mut self, tag: ValueTag, depth: usize) -> Result<AnyValue, Corrupt> {
        if depth > MAX_VALUE_DEPTH {
            return Err(Corrupt::new("values nest too deep"));
        }
        Ok(match tag {
            ValueTag::Empty => AnyValue::Empty,
            ValueTag::Str => AnyValue::Str(self.str()?),
            ValueTag::Bool => AnyValue::Bool(match self.byte()? {
                0 => false,
                1 => true,
                other => return Err(Corrupt(format!("boolean byte {other}"))),
            }),
            ValueTag::Int => AnyValue::Int(self.zigzag()?),
            ValueTag::Double => AnyValue::Double(f64::from_bits(u64::from_le_bytes(self.array()?))),
            ValueTag::Bytes => AnyValue::Bytes(self.bytes()?.to_vec()),
            ValueTag::Array => {
                let count = self.count()?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    let tag = ValueTag::from_byte(self.byte()?)?;
                    items.push(self.payload_at_depth(tag, depth + 1)?);
                }
                AnyValue::Array(items)
            }
            ValueTag::Map => AnyValue::Map(self.key_values_at_depth(depth + 1)?),
        })
    }

    #[cfg(test)]
    pub fn value(&mut self) -> Result<AnyValue, Corrupt> {
        let tag = ValueTag::from_byte(self.byte()?)?;
        self.payload(tag)
    }

    /// Skips a value of a known type without building it.
    pub fn skip_payload(&mut self, tag: ValueTag) -> Result<(), Corrupt> {
        match tag {
            ValueTag::Empty => {}
            ValueTag::Str | ValueTag::Bytes => {
                self.bytes()?;
            }
            ValueTag::Bool => {
                self.byte()?;
            }
            ValueTag::Int => {
                self.varint()?;
            }
            ValueTag::Double => {
                self.take(8)?;
            }
            ValueTag::Array | ValueTag::Map => {
                self.payload(tag)?;
            }
        }
        Ok(())
    }

    pub fn key_values(&mut self) -> Result<Vec<KeyValue>, Corrupt> {
        self.key_values_at_depth(0)
    }

    fn key_values_at_depth(&mut self, depth: usize) -> Result<Vec<KeyValue>, Corrupt> {
        let count = self.count()?;
        let mut entries = Vec::with_capacity(count);
        for _ in 0..count {
            let key = self.str()?;
            let tag = ValueTag::from_byte(self.byte()?)?;
            let value = self.payload_at_depth(tag, depth)?;
            entries.push(KeyValue { key, value });
        }
        Ok(entries)
    }

    pub fn resource(&mut self) -> Result<Resource, Corrupt> {
        let attributes = Attributes(self.key_values()?);
        let dropped_attributes_count = self.varint_u32()?;
        Ok(Resource { attributes, dropped_attributes_count })
    }

    pub fn scope(&mut self) -> Result<Scope, Corrupt> {
        Ok(Scope {
            name: self.str()?,
            version: self.str()?,
            attributes: Attributes(self.key_values()?),
            dropped_attributes_count: self.varint_u32()?,
        })
    }

    pub fn links(&mut self) -> Result<Vec<Link>, Corrupt> {
        let count = self.count()?;
        let mut links = Vec::with_capacity(count);
        for _ in 0..count {
            let trace_id = TraceId::from_bytes(self.array()?)
                .ok_or_else(|| Corrupt::new("link with a zero trace id"))?;
            let span_id = SpanId::from_bytes(self.array()?)
                .ok_or_else(|| Corrupt::new("link with a zero span id"))?;
            links.push(Link {
                trace_id,
                span_id,
                trace_state: self.str()?,
                flags: self.varint_u32()?,
                attributes: Attributes(self.key_values()?),
                dropped_attributes_count: self.varint_u32()?,
            });
        }
        Ok(links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_bad_bytes_are_errors() {
        let nested = AnyValue::Array(vec![
            AnyValue::Int(-5),
            AnyValue::Map(vec![
                KeyValue::new("k", 1.5),
                KeyValue::new("b", AnyValue::Bytes(vec![0, 255])),
            ]),
            AnyValue::Empty,
            AnyValue::Bool(true),
            AnyValue::Str(Str::new("x")),
        ]);
        let mut buf = Vec::new();
        put_value(&mut buf, &nested);
        put_zigzag(&mut buf, i64::MIN);
        put_varint(&mut buf, u64::MAX);
        let mut reader = Reader::new(&buf);
        assert_eq!(reader.value().unwrap(), nested);
        assert_eq!(reader.zigzag().unwrap(), i64::MIN);
        assert_eq!(reader.varint().unwrap(), u64::MAX);
        reader.finish("test").unwrap();
        for cut in 0..buf.len() - 1 {
            let mut reader = Reader::new(&buf[..cut]);
            let read = reader.value().and_then(|_| reader.zigzag()).and_then(|_| reader.varint());
            assert!(read.is_err(), "cut at {cut}");
        }
        assert!(Reader::new(&[9]).value().is_err());
        assert!(Reader::new(&[6, 0xff, 0xff, 0xff, 0xff, 0x0f]).value().is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowing_the_stack() {
        let mut buf = Vec::new();
        for _ in 0..10_000 {
            buf.extend_from_slice(&[ValueTag::Array as u8, 1]);
        }
        buf.push(0);
        assert!(Reader::new(&buf).value().is_err());
    }
}
