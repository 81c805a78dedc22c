//! Reading Apache Thrift's binary and compact protocols from a byte slice.
//!
//! Zipkin v1 and Jaeger send Thrift. The reader works on a borrowed slice so strings come out
//! without copying, and it checks every length against the bytes that are left before it trusts it,
//! so a hostile length prefix cannot make it allocate. Struct decoders are written once against
//! [`ThriftReader`] and work with either protocol.

use std::fmt;

/// Deepest struct/list nesting accepted; Zipkin and Jaeger need fewer than five levels.
pub const MAX_NESTING: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThriftError {
    #[error("thrift payload ends early, at byte {0}")]
    Truncated(usize),
    #[error("unknown thrift type {0}")]
    UnknownType(u8),
    #[error("thrift length {0} is negative or larger than the payload")]
    BadLength(i64),
    #[error("thrift varint is too long")]
    VarintTooLong,
    #[error("thrift structs nest deeper than {MAX_NESTING}")]
    TooDeep,
    #[error("thrift string is not UTF-8")]
    InvalidUtf8,
    #[error("thrift message header is invalid: {0}")]
    BadMessage(&'static str),
    #[error("thrift field {field} has type {found}, expected {expected}")]
    WrongType { field: i16, found: FieldType, expected: FieldType },
}

pub type Result<T> = std::result::Result<T, ThriftError>;

/// Thrift's value types, independent of the protocol's own numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    Binary,
    Struct,
    Map,
    Set,
    List,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A field header: its type and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub ty: FieldType,
    pub id: i16,
}

impl Field {
    /// Fails unless the field has the type the schema gives it.
    pub fn expect(self, expected: FieldType) -> Result<()> {
        if self.ty == expected {
            Ok(())
        } else {
            Err(ThriftError::WrongType { field: self.id, found: self.ty, expected })
        }
    }
}

/// The envelope of a Thrift RPC message (`emitBatch` on Jaeger's UDP ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHeader<'a> {
    pub name: &'a str,
    /// 1 call, 2 reply, 3 exception, 4 oneway.
    pub kind: u8,
    pub sequence_id: i32,
}

/// What struct decoders need from a protocol.
pub trait ThriftReader<'a> {
    fn read_message_begin(&mut self) -> Result<MessageHeader<'a>>;
    fn read_struct_begin(&mut self) -> Result<()>;
    fn read_struct_end(&mut self) -> Result<()>;
    /// The next field, or `None` at the struct's end.
    fn read_field_begin(&mut self) -> Result<Option<Field>>;
    fn read_bool(&mut self) -> Result<bool>;
    fn read_byte(&mut self) -> Result<i8>;
    fn read_i16(&mut self) -> Result<i16>;
    fn read_i32(&mut self) -> Result<i32>;
    fn read_i64(&mut self) -> Result<i64>;
    fn read_double(&mut self) -> Result<f64>;
    fn read_binary(&mut self) -> Result<&'a [u8]>;
    /// The element type and count; the count is checked against the bytes left.
    fn read_list_begin(&mut self) -> Result<(FieldType, usize)>;
    /// Key type, value type and count.
    fn read_map_begin(&mut self) -> Result<(FieldType, FieldType, usize)>;
    /// Bytes consumed so far.
    fn position(&self) -> usize;

    fn read_string(&mut self) -> Result<&'a str> {
        std::str::from_utf8(self.read_binary()?).map_err(|_| ThriftError::InvalidUtf8)
    }

    /// Reads past a value of the given type, for fields a decoder does not know.
    fn skip(&mut self, ty: FieldType) -> Result<()> {
        self.skip_nested(ty, 0)
    }

    #[doc(hidden)]
    fn skip_nested(&mut self, ty: FieldType, depth: usize) -> Result<()> {
        if depth > MAX_NESTING {
            return Err(ThriftError::TooDeep);
        }
        match ty {
            FieldType::Bool => self.read_bool().map(drop),
            FieldType::Byte => self.read_byte().map(drop),
            FieldType::I16 => self.read_i16().map(drop),
            FieldType::I32 => self.read_i32().map(drop),
            FieldType::I64 => self.read_i64().map(drop),
            FieldType::Double => self.read_double().map(drop),
            FieldType::Binary => self.read_binary().map(drop),
            FieldType::Struct => {
                self.read_struct_begin()?;
                while let Some(field) = self.read_field_begin()? {
                    self.skip_nested(field.ty, depth + 1)?;
                }
                self.read_struct_end()
            }
            FieldType::List | FieldType::Set => {
                let (element, count) = self.read_list_begin()?;
                for _ in 0..count {
                    self.skip_nested(element, depth + 1)?;
                }
                Ok(())
            }
            FieldType::Map => {
                let (key, value, count) = self.read_map_begin()?;
                for _ in 0..count {
                    self.skip_nested(key, depth + 1)?;
                    self.skip_nested(value, depth + 1)?;
                }
                Ok(())
            }
        }
    }
}

/// A cursor over the payload shared by both protocols.
#[derive(Debug)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(ThriftError::Truncated(self.bytes.len()))?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let slice = self.take(N)?;
        slice.try_into().map_err(|_| ThriftError::Truncated(self.pos))
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// A collection of `count` elements needs at least `count * min_size` more bytes.
    fn check_count(&self, count: i64, min_size: usize) -> Result<usize> {
        let count_usize = usize::try_from(count).map_err(|_| ThriftError::BadLength(count))?;
        if count_usize.saturating_mul(min_size) > self.remaining() {
            return Err(ThriftError::BadLength(count));
        }
        Ok(count_usize)
    }
}

/// Thrift's binary protocol (`TBinaryProtocol`): big-endian fixed-width numbers.
#[derive(Debug)]
pub struct BinaryReader<'a> {
    cursor: Cursor<'a>,
}

impl<'a> BinaryReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { cursor: Cursor { bytes, pos: 0 } }
    }

    fn field_type(code: u8) -> Result<FieldType> {
        Ok(match code {
            2 => FieldType::Bool,
            3 => FieldType::Byte,
            4 => FieldType::Double,
            6 => FieldType::I16,
            8 => FieldType::I32,
            10 => FieldType::I64,
            11 => FieldType::Binary,
            12 => FieldType::Struct,
            13 => FieldType::Map,
            14 => FieldType::Set,
            15 => FieldType::List,
            other => return Err(ThriftError::UnknownType(other)),
        })
    }

    /// The smallest encoding of one value of a type, to bound collection counts.
    fn min_size(ty: FieldType) -> usize {
        match ty {
            FieldType::Bool | FieldType::Byte | FieldType::Struct => 1,
            FieldType::I16 => 2,
            FieldType::I32 | FieldType::Binary => 4,
            FieldType::I64 | FieldType::Double => 8,
            FieldType::Map | FieldType::Set | FieldType::List => 5,
        }
    }
}

impl<'a> ThriftReader<'a> for BinaryReader<'a> {
    fn read_message_begin(&mut self) -> Result<MessageHeader<'a>> {
        let first = self.read_i32()?;
        if first < 0 {
            // Strict form: version in the high bits, message type in the low byte.
            if (first as u32) & 0xffff_0000 != 0x8001_0000 {
                return Err(ThriftError::BadMessage("unknown binary protocol version"));
            }
            let kind = (first & 0xff) as u8;
            let name = self.read_string()?;
            let sequence_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, sequence_id })
        } else {
            // Old form: the name's length comes first.
            let len = self.cursor.check_count(first as i64, 1)?;
            let name = std::str::from_utf8(self.cursor.take(len)?)
                .map_err(|_| ThriftError::InvalidUtf8)?;
            let kind = self.cursor.u8()?;
            let sequence_id = self.read_i32()?;
            Ok(MessageHeader { name, kind, sequence_id })
        }
    }

    fn read_struct_begin(&mut self) -> Result<()> {
        Ok(())
    }

    fn read_struct_end(&mut self) -> Result<()> {
        Ok(())
    }

    fn read_field_begin(&mut self) -> Result<Option<Field>> {
        let code = self.cursor.u8()?;
        if code == 0 {
            return Ok(None);
        }
        let ty = Self::field_type(code)?;
        let id = self.read_i16()?;
        Ok(Some(Field { ty, id }))
    }

    fn read_bool(&mut self) -> Result<bool> {
        Ok(self.cursor.u8()? != 0)
    }

    fn read_byte(&mut self) -> Result<i8> {
        Ok(self.cursor.u8()? as i8)
    }

    fn read_i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.cursor.array()?))
    }

    fn read_i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.cursor.array()?))
    }

    fn read_i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.cursor.array()?))
    }

    fn read_double(&mut self) -> Result<f64> {
        Ok(f64::from_be_bytes(self.cursor.array()?))
    }

    fn read_binary(&mut self) -> Result<&'a [u8]> {
        let len = self.read_i32()?;
        let len = self.cursor.check_count(len as i64, 1)?;
        self.cursor.take(len)
    }

    fn read_list_begin(&mut self) -> Result<(FieldType, usize)> {
        let element = Self::field_type(self.cursor.u8()?)?;
        let count = self.read_i32()?;
        let count = self.cursor.check_count(count as i64, Self::min_size(element))?;
        Ok((element, count))
    }

    fn read_map_begin(&mut self) -> Result<(FieldType, FieldType, usize)> {
        let key = Self::field_type(self.cursor.u8()?)?;
        let value = Self::field_type(self.cursor.u8()?)?;
        let count = self.read_i32()?;
        let entry = Self::min_size(key) + Self::min_size(value);
        let count = self.cursor.check_count(count as i64, entry)?;
        Ok((key, value, count))
    }

    fn position(&self) -> usize {
        self.cursor.pos
    }
}

/// Thrift's compact protocol (`TCompactProtocol`): zigzag varints and field-id deltas.
#[derive(Debug)]
pub struct CompactReader<'a> {
    cursor: Cursor<'a>,
    /// Last field id of each struct being read, for the delta encoding of field ids.
    last_field_ids: Vec<i16>,
    last_field_id: i16,
    /// A bool field carries its value in the field header; it is kept here until read.
    pending_bool: Option<bool>,
}

const COMPACT_PROTOCOL_ID: u8 = 0x82;
const COMPACT_VERSION: u8 = 1;

impl<'a> CompactReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            cursor: Cursor { bytes, pos: 0 },
            last_field_ids: Vec::new(),
            last_field_id: 0,
            pending_bool: None,
        }
    }

    fn field_type(code: u8) -> Result<FieldType> {
        Ok(match code {
            1 | 2 => FieldType::Bool,
            3 => FieldType::Byte,
            4 => FieldType::I16,
            5 => FieldType::I32,
            6 => FieldType::I64,
            7 => FieldType::Double,
            8 => FieldType::Binary,
            9 => FieldType::List,
            10 => FieldType::Set,
            11 => FieldType::Map,
            12 => FieldType::Struct,
            other => return Err(ThriftError::UnknownType(other)),
        })
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.cursor.u8()?;
            if shift == 63 && byte > 1 {
                return Err(ThriftError::VarintTooLong);
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ThriftError::VarintTooLong)
    }

    fn zigzag(&mut self) -> Result<i64> {
        let raw = self.varint()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    fn count(&mut self, raw: u64, min_size: usize) -> Result<usize> {
        let count = i64::try_from(raw).map_err(|_| ThriftError::BadLength(i64::MAX))?;
        self.cursor.check_count(count, min_size)
    }
}

impl<'a> ThriftReader<'a> for CompactReader<'a> {
    fn read_message_begin(&mut self) -> Result<MessageHeader<'a>> {
        if self.cursor.u8()? != COMPACT_PROTOCOL_ID {
            return Err(ThriftError::BadMessage("not the compact protocol"));
        }
        let version_and_kind = self.cursor.u8()?;
        if version_and_kind & 0x1f != COMPACT_VERSION {
            return Err(ThriftError::BadMessage("unknown compact protocol version"));
        }
        let kind = version_and_kind >> 5;
        let sequence_id = self.varint()? as i32;
        let name = self.read_string()?;
        Ok(MessageHeader { name, kind, sequence_id })
    }

    fn read_struct_begin(&mut self) -> Result<()> {
        if self.last_field_ids.len() > MAX_NESTING {
            return Err(ThriftError::TooDeep);
        }
        self.last_field_ids.push(self.last_field_id);
        self.last_field_id = 0;
        Ok(())
    }

    fn read_struct_end(&mut self) -> Result<()> {
        self.last_field_id = self.last_field_ids.pop().unwrap_or(0);
        Ok(())
    }

    fn read_field_begin(&mut self) -> Result<Option<Field>> {
        let header = self.cursor.u8()?;
        if header == 0 {
            return Ok(None);
        }
        let code = header & 0x0f;
        let ty = Self::field_type(code)?;
        let delta = header >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).map_err(|_| ThriftError::BadMessage("field id"))?
        } else {
            self.last_field_id.wrapping_add(delta as i16)
        };
        self.last_field_id = id;
        if ty == FieldType::Bool {
            self.pending_bool = Some(code == 1);
        }
        Ok(Some(Field { ty, id }))
    }

    fn read_bool(&mut self) -> Result<bool> {
        match self.pending_bool.take() {
            Some(value) => Ok(value),
            // Inside a list a bool is a byte: 1 is true.
            None => Ok(self.cursor.u8()? == 1),
        }
    }

    fn read_byte(&mut self) -> Result<i8> {
        Ok(self.cursor.u8()? as i8)
    }

    fn read_i16(&mut self) -> Result<i16> {
        i16::try_from(self.zigzag()?).map_err(|_| ThriftError::VarintTooLong)
    }

    fn read_i32(&mut self) -> Result<i32> {
        i32::try_from(self.zigzag()?).map_err(|_| ThriftError::VarintTooLong)
    }

    fn read_i64(&mut self) -> Result<i64> {
        self.zigzag()
    }

    fn read_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.cursor.array()?))
    }

    fn read_binary(&mut self) -> Result<&'a [u8]> {
        let len = self.varint()?;
        let len = self.count(len, 1)?;
        self.cursor.take(len)
    }

    fn read_list_begin(&mut self) -> Result<(FieldType, usize)> {
        let header = self.cursor.u8()?;
        let element = Self::field_type(header & 0x0f)?;
        let short_count = header >> 4;
        let count = if short_count == 15 { self.varint()? } else { u64::from(short_count) };
        let count = self.count(count, 1)?;
        Ok((element, count))
    }

    fn read_map_begin(&mut self) -> Result<(FieldType, FieldType, usize)> {
        let count = self.varint()?;
        if count == 0 {
            return Ok((FieldType::Binary, FieldType::Binary, 0));
        }
        let types = self.cursor.u8()?;
        let key = Self::field_type(types >> 4)?;
        let value = Self::field_type(types & 0x0f)?;
        let count = self.count(count, 2)?;
        Ok((key, value, count))
    }

    fn position(&self) -> usize {
        self.cursor.pos
    }
}

/// What struct encoders need from a protocol; both protocols write into a `Vec<u8>`.
pub trait ThriftWriter {
    fn write_message_begin(&mut self, name: &str, kind: u8, sequence_id: i32);
    fn write_struct_begin(&mut self);
    fn write_struct_end(&mut self);
    fn write_field_begin(&mut self, ty: FieldType, id: i16);
    fn write_field_stop(&mut self);
    fn write_bool(&mut self, value: bool);
    fn write_byte(&mut self, value: i8);
    fn write_i16(&mut self, value: i16);
    fn write_i32(&mut self, value: i32);
    fn write_i64(&mut self, value: i64);
    fn write_double(&mut self, value: f64);
    fn write_binary(&mut self, value: &[u8]);
    fn write_list_begin(&mut self, element: FieldType, count: usize);
    fn write_map_begin(&mut self, key: FieldType, value: FieldType, count: usize);

    fn write_string(&mut self, value: &str) {
        self.write_binary(value.as_bytes());
    }
}

/// Writes Thrift's binary protocol.
#[derive(Debug, Default)]
pub struct BinaryWriter {
    pub out: Vec<u8>,
}

impl BinaryWriter {
    pub fn new() -> Self {
        Self::default()
    }

    fn type_code(ty: FieldType) -> u8 {
        match ty {
            FieldType::Bool => 2,
            FieldType::Byte => 3,
            FieldType::Double => 4,
            FieldType::I16 => 6,
            FieldType::I32 => 8,
            FieldType::I64 => 10,
            FieldType::Binary => 11,
            FieldType::Struct => 12,
            FieldType::Map => 13,
            FieldType::Set => 14,
            FieldType::List => 15,
        }
    }
}

impl ThriftWriter for BinaryWriter {
    fn write_message_begin(&mut self, name: &str, kind: u8, sequence_id: i32) {
        self.write_i32((0x8001_0000u32 | u32::from(kind)) as i32);
        self.write_string(name);
        self.write_i32(sequence_id);
    }

    fn write_struct_begin(&mut self) {}

    fn write_struct_end(&mut self) {}

    fn write_field_begin(&mut self, ty: FieldType, id: i16) {
        self.out.push(Self::type_code(ty));
        self.write_i16(id);
    }

    fn write_field_stop(&mut self) {
        self.out.push(0);
    }

    fn write_bool(&mut self, value: bool) {
        self.out.push(u8::from(value));
    }

    fn write_byte(&mut self, value: i8) {
        self.out.push(value as u8);
    }

    fn write_i16(&mut self, value: i16) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn write_i32(&mut self, value: i32) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn write_i64(&mut self, value: i64) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn write_double(&mut self, value: f64) {
        self.out.extend_from_slice(&value.to_be_bytes());
    }

    fn write_binary(&mut self, value: &[u8]) {
        self.write_i32(value.len() as i32);
        self.out.extend_from_slice(value);
    }

    fn write_list_begin(&mut self, element: FieldType, count: usize) {
        self.out.push(Self::type_code(element));
        self.write_i32(count as i32);
    }

    fn write_map_begin(&mut self, key: FieldType, value: FieldType, count: usize) {
        self.out.push(Self::type_code(key));
        self.out.push(Self::type_code(value));
        self.write_i32(count as i32);
    }
}

/// Writes Thrift's compact protocol.
#[derive(Debug, Default)]
pub struct CompactWriter {
    pub out: Vec<u8>,
    last_field_ids: Vec<i16>,
    last_field_id: i16,
    /// A bool field's header is written together with its value.
    pending_bool_field: Option<i16>,
}

impl CompactWriter {
    pub fn new() -> Self {
        Self::default()
    }

    fn type_code(ty: FieldType) -> u8 {
        match ty {
            FieldType::Bool => 1,
            FieldType::Byte => 3,
            FieldType::I16 => 4,
            FieldType::I32 => 5,
            FieldType::I64 => 6,
            FieldType::Double => 7,
            FieldType::Binary => 8,
            FieldType::List => 9,
            FieldType::Set => 10,
            FieldType::Map => 11,
            FieldType::Struct => 12,
        }
    }

    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    fn zigzag(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }

    fn field_header(&mut self, code: u8, id: i16) {
        let delta = i32::from(id) - i32::from(self.last_field_id);
        if (1..=15).contains(&delta) {
            self.out.push(((delta as u8) << 4) | code);
        } else {
            self.out.push(code);
            self.zigzag(i64::from(id));
        }
        self.last_field_id = id;
    }
}

impl ThriftWriter for CompactWriter {
    fn write_message_begin(&mut self, name: &str, kind: u8, sequence_id: i32) {
        self.out.push(COMPACT_PROTOCOL_ID);
        self.out.push(COMPACT_VERSION | (kind << 5));
        self.varint(u64::from(sequence_id as u32));
        self.write_string(name);
    }

    fn write_struct_begin(&mut self) {
        self.last_field_ids.push(self.last_field_id);
        self.last_field_id = 0;
    }

    fn write_struct_end(&mut self) {
        self.last_field_id = self.last_field_ids.pop().unwrap_or(0);
    }

    fn write_field_begin(&mut self, ty: FieldType, id: i16) {
        if ty == FieldType::Bool {
            self.pending_bool_field = Some(id);
        } else {
            self.field_header(Self::type_code(ty), id);
        }
    }

    fn write_field_stop(&mut self) {
        self.out.push(0);
    }

    fn write_bool(&mut self, value: bool) {
        let code = if value { 1 } else { 2 };
        match self.pending_bool_field.take() {
            Some(id) => self.field_header(code, id),
            None => self.out.push(code),
        }
    }

    fn write_byte(&mut self, value: i8) {
        self.out.push(value as u8);
    }

    fn write_i16(&mut self, value: i16) {
        self.zigzag(i64::from(value));
    }

    fn write_i32(&mut self, value: i32) {
        self.zigzag(i64::from(value));
    }

    fn write_i64(&mut self, value: i64) {
        self.zigzag(value);
    }

    fn write_double(&mut self, value: f64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    fn write_binary(&mut self, value: &[u8]) {
        self.varint(value.len() as u64);
        self.out.extend_from_slice(value);
    }

    fn write_list_begin(&mut self, element: FieldType, count: usize) {
        let code = Self::type_code(element);
        if count < 15 {
            self.out.push(((count as u8) << 4) | code);
        } else {
            self.out.push(0xf0 | code);
            self.varint(count as u64);
        }
    }

    fn write_map_begin(&mut self, key: FieldType, value: FieldType, count: usize) {
        self.varint(count as u64);
        if count > 0 {
            self.out.push((Self::type_code(key) << 4) | Self::type_code(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_reads_struct_with_string_and_list() {
        // struct { 1: string "ab", 2: list<i64> [7], 3: bool true }
        let bytes = [
            11, 0, 1, 0, 0, 0, 2, b'a', b'b', //
            15, 0, 2, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, //
            2, 0, 3, 1, //
            0,
        ];
        let mut r = BinaryReader::new(&bytes);
        r.read_struct_begin().unwrap();
        let f = r.read_field_begin().unwrap().unwrap();
        assert_eq!((f.ty, f.id), (FieldType::Binary, 1));
        assert_eq!(r.read_string().unwrap(), "ab");
        let f = r.read_field_begin().unwrap().unwrap();
        assert_eq!((f.ty, f.id), (FieldType::List, 2));
        assert_eq!(r.read_list_begin().unwrap(), (FieldType::I64, 1));
        assert_eq!(r.read_i64().unwrap(), 7);
        let f = r.read_field_begin().unwrap().unwrap();
        assert_eq!((f.ty, f.id), (FieldType::Bool, 3));
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_field_begin().unwrap(), None);
    }

    #[test]
    fn compact_reads_deltas_bools_and_zigzag() {
        // struct { 1: i64 -2, 2: bool false, 20: string "x" } then STOP
        let bytes = [0x16, 0x03, 0x12, 0x08, 0x28, 0x01, b'x', 0x00];
        let mut r = CompactReader::new(&bytes);
        r.read_struct_begin().unwrap();
        let f = r.read_field_begin().unwrap().unwrap();
        assert_eq!((f.ty, f.id), (FieldType::I64, 1));
        assert_eq!(r.read_i64().unwrap(), -2);
        let f = r.read_field_begin().unwrap().unwrap();
        assert_eq!((f.ty, f.id), (FieldType::Bool, 2));
        assert!(!r.read_bool().unwrap());
        let f = r.read_field_begin().unwrap().unwrap();
        assert_eq!((f.ty, f.id), (FieldType::Binary, 20));
        assert_eq!(r.read_string().unwrap(), "x");
        assert_eq!(r.read_field_begin().unwrap(), None);
        r.read_struct_end().unwrap();
    }

    #[test]
    fn compact_message_header() {
        // protocol id, version 1 | oneway (4) << 5, seq 0, name "emitBatch"
        let mut bytes = vec![0x82, 0x81, 0x00, 9];
        bytes.extend_from_slice(b"emitBatch");
        let header = CompactReader::new(&bytes).read_message_begin().unwrap();
        assert_eq!(header, MessageHeader { name: "emitBatch", kind: 4, sequence_id: 0 });
    }

    #[test]
    fn hostile_lengths_fail_without_allocating() {
        let huge_string = [0x7f, 0xff, 0xff, 0xff, b'a'];
        assert!(matches!(
            BinaryReader::new(&huge_string).read_binary(),
            Err(ThriftError::BadLength(_))
        ));
        let huge_list = [10, 0x7f, 0xff, 0xff, 0xff];
        assert!(BinaryReader::new(&huge_list).read_list_begin().is_err());
        let huge_compact_list = [0xf6, 0xff, 0xff, 0xff, 0xff, 0x0f];
        assert!(CompactReader::new(&huge_compact_list).read_list_begin().is_err());
        assert!(BinaryReader::new(&[0, 0]).read_i32().is_err());
    }

    /// Writes one struct with every type, then reads it back with the matching reader.
    fn write_sample(w: &mut impl ThriftWriter) {
        w.write_struct_begin();
        w.write_field_begin(FieldType::I64, 1);
        w.write_i64(-5_000_000_000);
        w.write_field_begin(FieldType::Bool, 2);
        w.write_bool(true);
        w.write_field_begin(FieldType::Binary, 40);
        w.write_string("héllo");
        w.write_field_begin(FieldType::List, 41);
        w.write_list_begin(FieldType::Double, 20);
        for i in 0..20 {
            w.write_double(f64::from(i) / 4.0);
        }
        w.write_field_begin(FieldType::Map, 42);
        w.write_map_begin(FieldType::Binary, FieldType::I32, 1);
        w.write_string("k");
        w.write_i32(-7);
        w.write_field_stop();
        w.write_struct_end();
    }

    fn read_sample<'a>(r: &mut impl ThriftReader<'a>) {
        r.read_struct_begin().unwrap();
        assert_eq!(r.read_field_begin().unwrap(), Some(Field { ty: FieldType::I64, id: 1 }));
        assert_eq!(r.read_i64().unwrap(), -5_000_000_000);
        assert_eq!(r.read_field_begin().unwrap(), Some(Field { ty: FieldType::Bool, id: 2 }));
        assert!(r.read_bool().unwrap());
        assert_eq!(r.read_field_begin().unwrap(), Some(Field { ty: FieldType::Binary, id: 40 }));
        assert_eq!(r.read_string().unwrap(), "héllo");
        assert_eq!(r.read_field_begin().unwrap(), Some(Field { ty: FieldType::List, id: 41 }));
        assert_eq!(r.read_list_begin().unwrap(), (FieldType::Double, 20));
        for i in 0..20 {
            assert_eq!(r.read_double().unwrap(), f64::from(i) / 4.0);
        }
        assert_eq!(r.read_field_begin().unwrap(), Some(Field { ty: FieldType::Map, id: 42 }));
        assert_eq!(r.read_map_begin().unwrap(), (FieldType::Binary, FieldType::I32, 1));
        assert_eq!(r.read_string().unwrap(), "k");
        assert_eq!(r.read_i32().unwrap(), -7);
        assert_eq!(r.read_field_begin().unwrap(), None);
        r.read_struct_end().unwrap();
    }

    #[test]
    fn writers_and_readers_agree() {
        let mut binary = BinaryWriter::new();
        write_sample(&mut binary);
        read_sample(&mut BinaryReader::new(&binary.out));
        let mut compact = CompactWriter::new();
        write_sample(&mut compact);
        read_sample(&mut CompactReader::new(&compact.out));

        let mut w = CompactWriter::new();
        w.write_message_begin("emitBatch", 4, 3);
        let header = CompactReader::new(&w.out).read_message_begin().unwrap();
        assert_eq!(header, MessageHeader { name: "emitBatch", kind: 4, sequence_id: 3 });
        let mut w = BinaryWriter::new();
        w.write_message_begin("emitBatch", 4, 3);
        let header = BinaryReader::new(&w.out).read_message_begin().unwrap();
        assert_eq!(header, MessageHeader { name: "emitBatch", kind: 4, sequence_id: 3 });
    }

    #[test]
    fn skip_rejects_bottomless_nesting() {
        // Each byte 0x0c opens a nested struct field (compact: delta 0, type struct) ...
        let mut bytes = Vec::new();
        for _ in 0..200 {
            bytes.extend_from_slice(&[0x1c]);
        }
        let mut r = CompactReader::new(&bytes);
        r.read_struct_begin().unwrap();
        assert_eq!(r.skip(FieldType::Struct), Err(ThriftError::TooDeep));
    }
}
