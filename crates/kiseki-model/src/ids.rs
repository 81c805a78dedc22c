//! Trace and span identifiers: never zero, printed as fixed-width lowercase hex.

use std::fmt;
use std::num::{NonZeroU64, NonZeroU128};

/// Why a text or byte form could not be read as an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("id is empty")]
    Empty,
    #[error("id is longer than {max} hex characters")]
    TooLong { max: usize },
    #[error("id has a character that is not hex")]
    NotHex,
    #[error("id has {0} bytes, expected 8 or 16")]
    BadLength(usize),
    #[error("id is all zeros")]
    Zero,
}

/// A 128-bit trace id. Formats with 64-bit trace ids fill the low half.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(NonZeroU128);

/// A 64-bit span id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(NonZeroU64);

impl TraceId {
    /// `None` for zero, which every format treats as "no trace".
    pub const fn new(value: u128) -> Option<Self> {
        match NonZeroU128::new(value) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    pub const fn from_halves(high: u64, low: u64) -> Option<Self> {
        Self::new(((high as u128) << 64) | low as u128)
    }

    pub const fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        Self::new(u128::from_be_bytes(bytes))
    }

    /// Reads 16 big-endian bytes, or 8 bytes as the low half.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, IdError> {
        let value = match bytes.len() {
            16 => u128::from_be_bytes(bytes.try_into().map_err(|_| IdError::BadLength(16))?),
            8 => u64::from_be_bytes(bytes.try_into().map_err(|_| IdError::BadLength(8))?) as u128,
            0 => return Err(IdError::Empty),
            n => return Err(IdError::BadLength(n)),
        };
        Self::new(value).ok_or(IdError::Zero)
    }

    /// Reads 1 to 32 hex digits of either case; shorter ids are left-padded with zeros.
    pub fn from_hex(text: &str) -> Result<Self, IdError> {
        Self::new(parse_hex(text, 32)?).ok_or(IdError::Zero)
    }

    pub const fn get(self) -> u128 {
        self.0.get()
    }

    pub const fn high(self) -> u64 {
        (self.0.get() >> 64) as u64
    }

    pub const fn low(self) -> u64 {
        self.0.get() as u64
    }

    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.get().to_be_bytes()
    }
}

impl SpanId {
    /// `None` for zero, which every format treats as "no span" (e.g. a root's parent).
    pub const fn new(value: u64) -> Option<Self> {
        match NonZeroU64::new(value) {
            Some(v) => Some(Self(v)),
            None => None,
        }
    }

    pub const fn from_bytes(bytes: [u8; 8]) -> Option<Self> {
        Self::new(u64::from_be_bytes(bytes))
    }

    /// Reads exactly 8 big-endian bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, IdError> {
        let array: [u8; 8] = match bytes.len() {
            0 => return Err(IdError::Empty),
            8 => bytes.try_into().map_err(|_| IdError::BadLength(8))?,
            n => return Err(IdError::BadLength(n)),
        };
        Self::from_bytes(array).ok_or(IdError::Zero)
    }

    /// Reads 1 to 16 hex digits of either case; shorter ids are left-padded with zeros.
    pub fn from_hex(text: &str) -> Result<Self, IdError> {
        Self::new(parse_hex(text, 16)? as u64).ok_or(IdError::Zero)
    }

    pub const fn get(self) -> u64 {
        self.0.get()
    }

    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.get().to_be_bytes()
    }
}

fn parse_hex(text: &str, max_digits: usize) -> Result<u128, IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if text.len() > max_digits {
        return Err(IdError::TooLong { max: max_digits });
    }
    let mut value: u128 = 0;
    for byte in text.bytes() {
        let digit = (byte as char).to_digit(16).ok_or(IdError::NotHex)?;
        value = (value << 4) | digit as u128;
    }
    Ok(value)
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0.get())
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0.get())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_is_fixed_width_lowercase() {
        let id = TraceId::from_hex("ABCdef").unwrap();
        assert_eq!(id.to_string(), "00000000000000000000000000abcdef");
        assert_eq!(TraceId::from_hex(&id.to_string()).unwrap(), id);
        let span = SpanId::from_hex("1").unwrap();
        assert_eq!(span.to_string(), "0000000000000001");
    }

    #[test]
    fn halves_and_bytes_agree() {
        let id = TraceId::from_halves(0x0102030405060708, 0x090a0b0c0d0e0f10).unwrap();
        assert_eq!(id.to_bytes(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
        assert_eq!(TraceId::from_slice(&id.to_bytes()).unwrap(), id);
        assert_eq!(TraceId::from_slice(&[0, 0, 0, 0, 0, 0, 0, 7]).unwrap().low(), 7);
    }

    #[test]
    fn zero_bad_length_and_garbage_are_rejected() {
        assert_eq!(TraceId::from_hex("0000"), Err(IdError::Zero));
        assert_eq!(SpanId::from_slice(&[0; 8]), Err(IdError::Zero));
        assert_eq!(SpanId::from_slice(&[1; 4]), Err(IdError::BadLength(4)));
        assert_eq!(SpanId::from_hex("12345678901234567"), Err(IdError::TooLong { max: 16 }));
        assert_eq!(SpanId::from_hex("xyz"), Err(IdError::NotHex));
        assert_eq!(SpanId::from_hex("+1"), Err(IdError::NotHex));
        assert_eq!(TraceId::from_hex(""), Err(IdError::Empty));
    }
}
