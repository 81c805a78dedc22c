//! Protocol Buffers wire format: a reader over a borrowed slice and a writer into a `Vec<u8>`.
//!
//! OTLP decoding is kiseki's hottest path. Reading the wire format directly into the span model
//! skips the intermediate message structs a generated decoder would allocate for every attribute,
//! which is what makes decoding several times faster. Only the wire primitives live here; the
//! schema lives in the decoder and encoder.

/// Protocol Buffers wire types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireType {
    Varint,
    Fixed64,
    Len,
    Fixed32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("protobuf message ends early")]
    Truncated,
    #[error("protobuf varint is longer than 10 bytes")]
    VarintTooLong,
    #[error("protobuf wire type {0} is invalid or unsupported")]
    BadWireType(u8),
    #[error("protobuf field number 0 is invalid")]
    FieldZero,
    #[error("protobuf field {field} has wire type {found:?}, expected {expected:?}")]
    WrongWireType { field: u32, found: WireType, expected: WireType },
}

/// A cursor over one protobuf message.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[inline]
    pub fn varint(&mut self) -> Result<u64, WireError> {
        // One-byte varints are by far the most common: tags, small lengths, enums.
        match self.buf.get(self.pos) {
            Some(&byte) if byte < 0x80 => {
                self.pos += 1;
                Ok(u64::from(byte))
            }
            _ => self.varint_slow(),
        }
    }

    #[cold]
    fn varint_slow(&mut self) -> Result<u64, WireError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = *self.buf.get(self.pos).ok_or(WireError::Truncated)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(WireError::VarintTooLong)
    }

    /// The next field's number and wire type, or `None` at the end of the message.
    #[inline]
    pub fn field(&mut self) -> Result<Option<(u32, WireType)>, WireError> {
        if self.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let wire_type = match key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            other => return Err(WireError::BadWireType(other as u8)),
        };
        let number = u32::try_from(key >> 3).map_err(|_| WireError::BadWireType(0))?;
        if number == 0 {
            return Err(WireError::FieldZero);
        }
        Ok(Some((number, wire_type)))
    }

    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.varint()?).map_err(|_| WireError::Truncated)?;
        let end = self.pos.checked_add(len).ok_or(WireError::Truncated)?;
        let slice = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(slice)
    }

    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, WireError> {
        let slice = self.buf.get(self.pos..self.pos + 8).ok_or(WireError::Truncated)?;
        self.pos += 8;
        let array: [u8; 8] = slice.try_into().map_err(|_| WireError::Truncated)?;
        Ok(u64::from_le_bytes(array))
    }

    #[inline]
    pub fn fixed32(&mut self) -> Result<u32, WireError> {
        let slice = self.buf.get(self.pos..self.pos + 4).ok_or(WireError::Truncated)?;
        self.pos += 4;
        let array: [u8; 4] = slice.try_into().map_err(|_| WireError::Truncated)?;
        Ok(u32::from_le_bytes(array))
    }

    /// Reads past a field this decoder does not know.
    pub fn skip(&mut self, wire_type: WireType) -> Result<(), WireError> {
        match wire_type {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.fixed64().map(drop),
            WireType::Fixed32 => self.fixed32().map(drop),
            WireType::Len => self.bytes().map(drop),
        }
    }
}

/// Fails unless a field arrived with the wire type its schema gives it.
#[inline]
pub fn expect(field: u32, found: WireType, expected: WireType) -> Result<(), WireError> {
    if found == expected {
        Ok(())
    } else {
        Err(WireError::WrongWireType { field, found, expected })
    }
}

/// Appends protobuf fields to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    pub out: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    pub fn uint64(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, 0);
            self.varint(value);
        }
    }

    /// A varint field written even when zero (a oneof member must be present).
    pub fn uint64_always(&mut self, field: u32, value: u64) {
        self.key(field, 0);
        self.varint(value);
    }

    pub fn fixed64(&mut self, field: u32, value: u64) {
        if value != 0 {
            self.key(field, 1);
            self.out.extend_from_slice(&value.to_le_bytes());
        }
    }

    pub fn fixed32(&mut self, field: u32, value: u32) {
        if value != 0 {
            self.key(field, 5);
            self.out.extend_from_slice(&value.to_le_bytes());
        }
    }

    pub fn double(&mut self, field: u32, value: f64) {
        self.key(field, 1);
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// A bytes or string field; empty values are left out as proto3 does.
    pub fn bytes(&mut self, field: u32, value: &[u8]) {
        if !value.is_empty() {
            self.bytes_always(field, value);
        }
    }

    /// A bytes or string field written even when empty (a oneof member must be present).
    pub fn bytes_always(&mut self, field: u32, value: &[u8]) {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.out.extend_from_slice(value);
    }

    /// A nested message written by `body`; its length prefix is fixed up afterwards.
    pub fn message(&mut self, field: u32, body: impl FnOnce(&mut Writer)) {
        self.key(field, 2);
        let length_at = self.out.len();
        self.out.push(0);
        let body_start = self.out.len();
        body(self);
        let len = self.out.len() - body_start;
        let mut prefix = [0u8; 10];
        let mut prefix_len = 0;
        let mut value = len as u64;
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                prefix[prefix_len] = byte;
                prefix_len += 1;
                break;
            }
            prefix[prefix_len] = byte | 0x80;
            prefix_len += 1;
        }
        // The body was written after a one-byte placeholder; longer prefixes shift it right.
        self.out.splice(length_at..body_start, prefix[..prefix_len].iter().copied());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_output_reads_back() {
        let mut w = Writer::new();
        w.uint64(1, 300);
        w.fixed64(2, u64::MAX);
        w.message(3, |w| w.bytes(1, &[7u8; 200]));
        w.fixed32(4, 257);
        let mut r = Reader::new(&w.out);
        assert_eq!(r.field().unwrap(), Some((1, WireType::Varint)));
        assert_eq!(r.varint().unwrap(), 300);
        assert_eq!(r.field().unwrap(), Some((2, WireType::Fixed64)));
        assert_eq!(r.fixed64().unwrap(), u64::MAX);
        assert_eq!(r.field().unwrap(), Some((3, WireType::Len)));
        let mut inner = Reader::new(r.bytes().unwrap());
        assert_eq!(inner.field().unwrap(), Some((1, WireType::Len)));
        assert_eq!(inner.bytes().unwrap(), &[7u8; 200][..]);
        assert_eq!(r.field().unwrap(), Some((4, WireType::Fixed32)));
        assert_eq!(r.fixed32().unwrap(), 257);
        assert_eq!(r.field().unwrap(), None);
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(Reader::new(&[0x80]).varint(), Err(WireError::Truncated));
        assert_eq!(Reader::new(&[0xff; 11]).varint(), Err(WireError::VarintTooLong));
        assert_eq!(Reader::new(&[0x0b]).field(), Err(WireError::BadWireType(3)));
        assert_eq!(Reader::new(&[0x02]).field(), Err(WireError::FieldZero));
        assert_eq!(Reader::new(&[0x05, 1]).bytes(), Err(WireError::Truncated));
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).bytes(),
            Err(WireError::Truncated)
        );
        assert_eq!(Reader::new(&[1, 2, 3]).fixed64(), Err(WireError::Truncated));
    }
}
