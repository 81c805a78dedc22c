//! Reading and writing msgpack on byte slices, with the leniency Datadog tracers need.
//!
//! Tracers encode numbers in whatever width is smallest and sometimes with the wrong sign or as
//! floats, so the readers here accept any msgpack number where the agent's schema has one, and
//! `nil` wherever the agent accepts it. Every count is checked against the bytes that are left
//! before it is trusted, strings are borrowed from the input and validated as UTF-8, and skipping
//! an unknown value is iterative, so no input can make the reader allocate or recurse without
//! bound.

use std::convert::Infallible;

use rmp::Marker;
use rmp::encode::{ByteBuf, ValueWriteError};

use super::error::Problem;

/// A problem and the byte offset where the reader met it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ReadError {
    pub offset: usize,
    pub problem: Problem,
}

pub(crate) type ReadResult<T> = Result<T, ReadError>;

/// A msgpack number in the representation it was sent in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

/// A cursor over a msgpack payload.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub fn error(&self, problem: Problem) -> ReadError {
        ReadError { offset: self.pos, problem }
    }

    fn take(&mut self, n: usize) -> ReadResult<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.error(Problem::Truncated))?;
        let slice = self.bytes.get(self.pos..end).ok_or_else(|| self.error(Problem::Truncated))?;
        self.pos = end;
        Ok(slice)
    }

    fn array_of<const N: usize>(&mut self) -> ReadResult<[u8; N]> {
        let slice = self.take(N)?;
        slice.try_into().map_err(|_| self.error(Problem::Truncated))
    }

    fn u8(&mut self) -> ReadResult<u8> {
        Ok(u8::from_be_bytes(self.array_of()?))
    }

    fn u16(&mut self) -> ReadResult<u16> {
        Ok(u16::from_be_bytes(self.array_of()?))
    }

    fn u32(&mut self) -> ReadResult<u32> {
        Ok(u32::from_be_bytes(self.array_of()?))
    }

    fn u64(&mut self) -> ReadResult<u64> {
        Ok(u64::from_be_bytes(self.array_of()?))
    }

    pub fn peek_marker(&self) -> ReadResult<Marker> {
        self.bytes
            .get(self.pos)
            .map(|&byte| Marker::from_u8(byte))
            .ok_or_else(|| self.error(Problem::Truncated))
    }

    fn marker(&mut self) -> ReadResult<Marker> {
        let marker = self.peek_marker()?;
        self.pos = self.pos.saturating_add(1);
        Ok(marker)
    }

    /// Consumes a `nil` if one is next.
    pub fn take_nil(&mut self) -> ReadResult<bool> {
        if self.peek_marker()? == Marker::Null {
            self.pos = self.pos.saturating_add(1);
            return Ok(true);
        }
        Ok(false)
    }

    /// Fails with what was found instead of what the schema expects; the offset points at it.
    fn mismatch<T>(&mut self, expected: &'static str, found: Marker) -> ReadResult<T> {
        self.pos = self.pos.saturating_sub(1);
        Err(self.error(Problem::UnexpectedType { expected, found: marker_name(found) }))
    }

    /// An array header; the count is at most the bytes left, since every element takes one.
    pub fn array_len(&mut self) -> ReadResult<usize> {
        let count = match self.marker()? {
            Marker::FixArray(n) => u32::from(n),
            Marker::Array16 => u32::from(self.u16()?),
            Marker::Array32 => self.u32()?,
            other => return self.mismatch("an array", other),
        };
        self.checked_count(count, 1)
    }

    /// A map header; the count is at most half the bytes left.
    pub fn map_len(&mut self) -> ReadResult<usize> {
        let count = match self.marker()? {
            Marker::FixMap(n) => u32::from(n),
            Marker::Map16 => u32::from(self.u16()?),
            Marker::Map32 => self.u32()?,
            other => return self.mismatch("a map", other),
        };
        self.checked_count(count, 2)
    }

    /// An array header, or `nil` read as an empty array.
    pub fn array_len_or_nil(&mut self) -> ReadResult<usize> {
        if self.take_nil()? { Ok(0) } else { self.array_len() }
    }

    /// A map header, or `nil` read as an empty map.
    pub fn map_len_or_nil(&mut self) -> ReadResult<usize> {
        if self.take_nil()? { Ok(0) } else { self.map_len() }
    }

    fn checked_count(&self, count: u32, bytes_per_entry: usize) -> ReadResult<usize> {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count.saturating_mul(bytes_per_entry) > self.remaining() {
            return Err(ReadError {
                offset: self.pos,
                problem: Problem::CountTooLarge { count: count as u64 },
            });
        }
        Ok(count)
    }

    /// A string (or binary, which some tracers use for strings); `nil` reads as empty.
    pub fn str(&mut self) -> ReadResult<&'a str> {
        let start = self.pos;
        let len = match self.marker()? {
            Marker::Null => return Ok(""),
            Marker::FixStr(n) => usize::from(n),
            Marker::Str8 | Marker::Bin8 => usize::from(self.u8()?),
            Marker::Str16 | Marker::Bin16 => usize::from(self.u16()?),
            Marker::Str32 | Marker::Bin32 => usize::try_from(self.u32()?).unwrap_or(usize::MAX),
            other => return self.mismatch("a string", other),
        };
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map_err(|_| ReadError { offset: start, problem: Problem::InvalidUtf8 })
    }

    /// Any msgpack number; `None` for `nil`.
    pub fn number_or_nil(&mut self) -> ReadResult<Option<Number>> {
        let number = match self.marker()? {
            Marker::Null => return Ok(None),
            Marker::FixPos(n) => Number::Unsigned(u64::from(n)),
            Marker::FixNeg(n) => Number::Signed(i64::from(n)),
            Marker::U8 => Number::Unsigned(u64::from(self.u8()?)),
            Marker::U16 => Number::Unsigned(u64::from(self.u16()?)),
            Marker::U32 => Number::Unsigned(u64::from(self.u32()?)),
            Marker::U64 => Number::Unsigned(self.u64()?),
            Marker::I8 => Number::Signed(i64::from(i8::from_be_bytes(self.array_of()?))),
            Marker::I16 => Number::Signed(i64::from(i16::from_be_bytes(self.array_of()?))),
            Marker::I32 => Number::Signed(i64::from(i32::from_be_bytes(self.array_of()?))),
            Marker::I64 => Number::Signed(i64::from_be_bytes(self.array_of()?)),
            Marker::F32 => Number::Float(f64::from(f32::from_be_bytes(self.array_of()?))),
            Marker::F64 => Number::Float(f64::from_be_bytes(self.array_of()?)),
            other => return self.mismatch("a number", other),
        };
        Ok(Some(number))
    }

    /// A non-negative integer of any width (a v0.5 string-table index).
    pub fn unsigned(&mut self, expected: &'static str) -> ReadResult<u64> {
        let start = self.pos;
        let marker = self.peek_marker()?;
        match self.number_or_nil() {
            Ok(Some(Number::Unsigned(value))) => Ok(value),
            Ok(Some(Number::Signed(value))) if value >= 0 => Ok(value as u64),
            Err(error) if error.problem == Problem::Truncated => Err(error),
            _ => Err(ReadError {
                offset: start,
                problem: Problem::UnexpectedType { expected, found: marker_name(marker) },
            }),
        }
    }

    /// An unsigned 64-bit id. Signed values are reinterpreted (tracers without unsigned types
    /// send the same bits), floats must be whole and in range; `nil` reads as zero.
    pub fn id(&mut self) -> ReadResult<u64> {
        let start = self.pos;
        match self.number_or_nil()? {
            None => Ok(0),
            Some(number) => number_to_id(number)
                .ok_or(ReadError { offset: start, problem: Problem::OutOfRange("a 64-bit id") }),
        }
    }

    /// A signed 64-bit integer (a time or duration in nanoseconds); `nil` reads as zero.
    pub fn i64(&mut self) -> ReadResult<i64> {
        let start = self.pos;
        match self.number_or_nil()? {
            None => Ok(0),
            Some(number) => number_to_i64(number).ok_or(ReadError {
                offset: start,
                problem: Problem::OutOfRange("a signed 64-bit integer"),
            }),
        }
    }

    /// A float; integers of either sign are converted, `nil` reads as zero.
    pub fn f64(&mut self) -> ReadResult<f64> {
        Ok(self.number_or_nil()?.map_or(0.0, number_to_f64))
    }

    /// Whether a number or boolean is non-zero; `nil` reads as false.
    pub fn flag(&mut self) -> ReadResult<bool> {
        match self.peek_marker()? {
            Marker::True => {
                self.pos = self.pos.saturating_add(1);
                Ok(true)
            }
            Marker::False => {
                self.pos = self.pos.saturating_add(1);
                Ok(false)
            }
            _ => Ok(self.number_or_nil()?.is_some_and(|n| number_to_f64(n) != 0.0)),
        }
    }

    /// A boolean; `nil` reads as false.
    pub fn bool(&mut self) -> ReadResult<bool> {
        match self.marker()? {
            Marker::True => Ok(true),
            Marker::False | Marker::Null => Ok(false),
            other => self.mismatch("a boolean", other),
        }
    }

    /// Reads past one value of any type. Iterative: nesting cannot exhaust the stack.
    pub fn skip(&mut self) -> ReadResult<()> {
        let mut pending: u64 = 1;
        while pending > 0 {
            pending -= 1;
            let marker = self.marker()?;
            let data_len = match marker {
                Marker::FixPos(_)
                | Marker::FixNeg(_)
                | Marker::Null
                | Marker::True
                | Marker::False => 0,
                Marker::U8 | Marker::I8 => 1,
                Marker::U16 | Marker::I16 => 2,
                Marker::U32 | Marker::I32 | Marker::F32 => 4,
                Marker::U64 | Marker::I64 | Marker::F64 => 8,
                Marker::FixStr(n) => usize::from(n),
                Marker::Str8 | Marker::Bin8 => usize::from(self.u8()?),
                Marker::Str16 | Marker::Bin16 => usize::from(self.u16()?),
                Marker::Str32 | Marker::Bin32 => usize::try_from(self.u32()?).unwrap_or(usize::MAX),
                Marker::FixExt1 => 2,
                Marker::FixExt2 => 3,
                Marker::FixExt4 => 5,
                Marker::FixExt8 => 9,
                Marker::FixExt16 => 17,
                Marker::Ext8 => usize::from(self.u8()?).saturating_add(1),
                Marker::Ext16 => usize::from(self.u16()?).saturating_add(1),
                Marker::Ext32 => {
                    usize::try_from(self.u32()?).unwrap_or(usize::MAX).saturating_add(1)
                }
                Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                    self.pos = self.pos.saturating_sub(1);
                    pending = pending.saturating_add(self.array_len()? as u64);
                    0
                }
                Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                    self.pos = self.pos.saturating_sub(1);
                    pending = pending.saturating_add((self.map_len()? as u64).saturating_mul(2));
                    0
                }
                Marker::Reserved => return self.mismatch("a value", marker),
            };
            self.take(data_len)?;
        }
        Ok(())
    }
}

pub(crate) fn number_to_id(number: Number) -> Option<u64> {
    match number {
        Number::Unsigned(value) => Some(value),
        Number::Signed(value) => Some(value as u64),
        Number::Float(value) => {
            // 2^64 is exactly representable; anything at or above it does not fit.
            let in_range = (0.0..18_446_744_073_709_551_616.0).contains(&value);
            (in_range && value.fract() == 0.0).then_some(value as u64)
        }
    }
}

pub(crate) fn number_to_i64(number: Number) -> Option<i64> {
    match number {
        Number::Unsigned(value) => i64::try_from(value).ok(),
        Number::Signed(value) => Some(value),
        // `as` saturates; a time that large is clamped later anyway.
        Number::Float(value) => value.is_finite().then_some(value as i64),
    }
}

pub(crate) fn number_to_f64(number: Number) -> f64 {
    match number {
        Number::Unsigned(value) => value as f64,
        Number::Signed(value) => value as f64,
        Number::Float(value) => value,
    }
}

/// How a value of a marker's type is called in error messages.
pub(crate) fn marker_name(marker: Marker) -> &'static str {
    match marker {
        Marker::Null => "nil",
        Marker::True | Marker::False => "a boolean",
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => "an integer",
        Marker::F32 | Marker::F64 => "a float",
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => "a string",
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => "binary data",
        Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => "an array",
        Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => "a map",
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => "an extension value",
        Marker::Reserved => "the reserved byte 0xc1",
    }
}

/// A msgpack writer into memory; writing to a `Vec` cannot fail, so no method returns an error.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: ByteBuf,
}

/// Unwraps a write result whose error type is uninhabited.
fn infallible<T>(result: Result<T, ValueWriteError<Infallible>>) -> T {
    match result {
        Ok(value) => value,
        Err(
            ValueWriteError::InvalidMarkerWrite(never) | ValueWriteError::InvalidDataWrite(never),
        ) => match never {},
    }
}

impl Writer {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { buf: ByteBuf::with_capacity(capacity) }
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.buf.into_vec()
    }

    /// Collections longer than `u32::MAX` cannot be written; the encoders never build them.
    pub fn array_len(&mut self, len: usize) {
        infallible(rmp::encode::write_array_len(&mut self.buf, saturate_u32(len)));
    }

    pub fn map_len(&mut self, len: usize) {
        infallible(rmp::encode::write_map_len(&mut self.buf, saturate_u32(len)));
    }

    pub fn str(&mut self, text: &str) {
        infallible(rmp::encode::write_str(&mut self.buf, text));
    }

    pub fn u64(&mut self, value: u64) {
        infallible(rmp::encode::write_uint(&mut self.buf, value));
    }

    pub fn i64(&mut self, value: i64) {
        infallible(rmp::encode::write_sint(&mut self.buf, value));
    }

    pub fn f64(&mut self, value: f64) {
        infallible(rmp::encode::write_f64(&mut self.buf, value));
    }

    pub fn bool(&mut self, value: bool) {
        match rmp::encode::write_bool(&mut self.buf, value) {
            Ok(()) => {}
            Err(never) => match never {},
        }
    }
}

fn saturate_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_every_width_read_as_ids() {
        for (bytes, expected) in [
            (vec![0x07], 7u64),
            (vec![0xcc, 0xff], 255),
            (vec![0xcd, 0x01, 0x00], 256),
            (vec![0xce, 0, 1, 0, 0], 65536),
            (vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], u64::MAX),
            (vec![0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], u64::MAX),
            (vec![0xff], u64::MAX),
            (vec![0xcb, 0x40, 0x59, 0, 0, 0, 0, 0, 0], 100),
            (vec![0xca, 0x42, 0xc8, 0, 0], 100),
            (vec![0xc0], 0),
        ] {
            assert_eq!(Reader::new(&bytes).id().unwrap(), expected, "{bytes:x?}");
        }
    }

    #[test]
    fn fractional_and_negative_floats_are_not_ids() {
        let half = [0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0];
        let err = Reader::new(&half).id().unwrap_err();
        assert_eq!(err.problem, Problem::OutOfRange("a 64-bit id"));
        assert_eq!(err.offset, 0);
        let negative = [0xcb, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0];
        assert!(Reader::new(&negative).id().is_err());
    }

    #[test]
    fn huge_unsigned_is_not_a_time() {
        let bytes = [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(Reader::new(&bytes).i64().is_err());
    }

    #[test]
    fn counts_larger_than_the_input_are_refused() {
        let array = [0xdd, 0xff, 0xff, 0xff, 0xff, 0x01];
        let err = Reader::new(&array).array_len().unwrap_err();
        assert_eq!(err.problem, Problem::CountTooLarge { count: u64::from(u32::MAX) });
        let map = [0x82, 0x01, 0x02, 0x03];
        assert!(Reader::new(&map).map_len().is_err());
    }

    #[test]
    fn strings_are_validated_and_binary_is_accepted() {
        assert_eq!(Reader::new(&[0xa2, b'h', b'i']).str().unwrap(), "hi");
        assert_eq!(Reader::new(&[0xc4, 0x02, b'h', b'i']).str().unwrap(), "hi");
        assert_eq!(Reader::new(&[0xc0]).str().unwrap(), "");
        let err = Reader::new(&[0xa2, 0xff, 0xfe]).str().unwrap_err();
        assert_eq!(err.problem, Problem::InvalidUtf8);
        let err = Reader::new(&[0x01]).str().unwrap_err();
        assert_eq!(
            err.problem,
            Problem::UnexpectedType { expected: "a string", found: "an integer" }
        );
    }

    #[test]
    fn skip_handles_deep_nesting_without_recursion() {
        let mut bytes = vec![0x91; 100_000];
        bytes.push(0x01);
        bytes.push(0x02);
        let mut reader = Reader::new(&bytes);
        reader.skip().unwrap();
        assert_eq!(reader.position(), 100_001);
    }

    #[test]
    fn skip_reads_past_every_type() {
        let mut writer = Writer::default();
        writer.map_len(2);
        writer.str("a");
        writer.array_len(3);
        writer.f64(1.5);
        writer.i64(-300);
        writer.bool(true);
        writer.str("b");
        writer.u64(u64::MAX);
        let mut bytes = writer.into_vec();
        bytes.extend_from_slice(&[0xd4, 0x01, 0x02, 0xc7, 0x01, 0x05, 0x09, 0x2a]);
        let mut reader = Reader::new(&bytes);
        for _ in 0..3 {
            reader.skip().unwrap();
        }
        assert_eq!(reader.id().unwrap(), 42);
        assert!(Reader::new(&[0xc1]).skip().is_err());
        assert!(Reader::new(&[0xd9, 0x05, b'a']).skip().is_err());
    }
}
