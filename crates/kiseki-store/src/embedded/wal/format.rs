//! The bytes of a WAL segment file, kept apart from the I/O so the format is defined in one place.
//!
//! ```text
//! segment = header record*
//! header  = magic "KISEKIWL" (8 bytes) | format version (u32 LE)
//! record  = length (u32 LE) | crc32 (u32 LE) of the length bytes then the data | data
//! ```
//!
//! The checksum covers the length too, so a zero-filled tail (length 0, checksum 0) is never read
//! as an empty record, and a flipped length bit is caught like a flipped data bit.

use std::io::{self, Read};

use super::SegmentId;

/// First bytes of every segment file.
pub(super) const MAGIC: [u8; 8] = *b"KISEKIWL";
/// The format version this build writes. Segments of every earlier version stay readable.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes before the first record of a segment.
pub(super) const SEGMENT_HEADER_LEN: u64 = 12;
/// Bytes before the data of a record: its length and its checksum.
pub(super) const RECORD_HEADER_LEN: usize = 8;
/// Largest record the format allows. Replay treats a longer length field as damage, so a
/// corrupt length never makes it allocate gigabytes.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

const SEGMENT_SUFFIX: &str = ".wal";
const SEGMENT_DIGITS: usize = 20;

/// The file name of a segment: its number, zero-padded so names sort like numbers.
pub(super) fn segment_file_name(segment: SegmentId) -> String {
    format!("{:0width$}{SEGMENT_SUFFIX}", segment.0, width = SEGMENT_DIGITS)
}

/// The segment a file name stands for, or `None` for any other file.
pub(super) fn parse_segment_file_name(name: &str) -> Option<SegmentId> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(SegmentId)
}

/// The header this build writes at the start of a new segment.
pub(super) fn segment_header() -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut header = [0; SEGMENT_HEADER_LEN as usize];
    header[..8].copy_from_slice(&MAGIC);
    header[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

/// What the first bytes of a segment file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HeaderCheck {
    /// A header of a version this build reads.
    Valid { version: u32 },
    /// Shorter than a header, or all zeros: the file was created but its header never reached
    /// the disk.
    Missing,
    /// Not a WAL header at all.
    NotWal,
    /// A WAL header of a version newer than this build.
    Newer { version: u32 },
}

/// Checks the first `SEGMENT_HEADER_LEN` bytes of a segment (fewer when the file is shorter).
pub(super) fn check_segment_header(bytes: &[u8]) -> HeaderCheck {
    if bytes.len() < SEGMENT_HEADER_LEN as usize || bytes.iter().all(|&b| b == 0) {
        return HeaderCheck::Missing;
    }
    if bytes[..8] != MAGIC {
        return HeaderCheck::NotWal;
    }
    let mut version = [0; 4];
    version.copy_from_slice(&bytes[8..12]);
    match u32::from_le_bytes(version) {
        0 => HeaderCheck::NotWal,
        version if version > FORMAT_VERSION => HeaderCheck::Newer { version },
        version => HeaderCheck::Valid { version },
    }
}

/// The length and checksum written before a record's data.
pub(super) fn record_header(record: &[u8]) -> [u8; RECORD_HEADER_LEN] {
    // The caller refuses records over MAX_RECORD_BYTES, which fits in u32.
    let len = u32::try_from(record.len()).unwrap_or(u32::MAX).to_le_bytes();
    let mut header = [0; RECORD_HEADER_LEN];
    header[..4].copy_from_slice(&len);
    header[4..].copy_from_slice(&record_crc(len, record).to_le_bytes());
    header
}

fn record_crc(len: [u8; 4], record: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(record);
    hasher.finalize()
}

/// How the bytes where a record should start fail to be one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Fewer bytes left than a record header.
    TruncatedHeader,
    /// The length field points past the end of the file.
    TruncatedRecord,
    /// The length field is larger than the format allows.
    LengthOverLimit,
    /// The checksum does not match the length and data.
    ChecksumMismatch,
    /// Zeros where a record header should be, as a crash leaves on some filesystems.
    ZeroFilled,
}

impl Damage {
    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TruncatedHeader => "truncated_header",
            Self::TruncatedRecord => "truncated_record",
            Self::LengthOverLimit => "length_over_limit",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::ZeroFilled => "zero_filled",
        }
    }
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`RecordReader::next`] found at its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// A whole, checked record starting at `offset`; its data is in [`RecordReader::record`].
    Record { offset: u64 },
    /// The end of the file, exactly at a record boundary.
    End,
    /// No valid record at `offset`. After a checksum mismatch the reader has moved past the
    /// record as its length field says, so the caller can look at what follows; after any other
    /// damage the reader stays at the end.
    Damaged { offset: u64, damage: Damage },
}

/// Reads records one at a time from a segment whose header was already read.
pub(super) struct RecordReader<R> {
    reader: R,
    offset: u64,
    file_len: u64,
    record: Vec<u8>,
}

impl<R: Read> RecordReader<R> {
    /// `reader` is positioned at `offset`; the file is `file_len` bytes long.
    pub(super) fn new(reader: R, offset: u64, file_len: u64) -> Self {
        Self { reader, offset, file_len, record: Vec::new() }
    }

    /// The data of the record last returned as [`Next::Record`].
    pub(super) fn record(&self) -> &[u8] {
        &self.record
    }

    pub(super) fn next(&mut self) -> io::Result<Next> {
        let offset = self.offset;
        let left = self.file_len.saturating_sub(offset);
        if left == 0 {
            return Ok(Next::End);
        }
        let damaged = |this: &mut Self, damage| {
            this.offset = this.file_len;
            Ok(Next::Damaged { offset, damage })
        };
        let mut header = [0; RECORD_HEADER_LEN];
        if left < RECORD_HEADER_LEN as u64 {
            let short = &mut header[..left as usize];
            self.reader.read_exact(short)?;
            let all_zero = short.iter().all(|&b| b == 0);
            return damaged(
                self,
                if all_zero { Damage::ZeroFilled } else { Damage::TruncatedHeader },
            );
        }
        self.reader.read_exact(&mut header)?;
        if header == [0; RECORD_HEADER_LEN] {
            return damaged(self, Damage::ZeroFilled);
        }
        let mut len_bytes = [0; 4];
        len_bytes.copy_from_slice(&header[..4]);
        let mut crc_bytes = [0; 4];
        crc_bytes.copy_from_slice(&header[4..]);
        let len = u32::from_le_bytes(len_bytes);
        if len as usize > MAX_RECORD_BYTES {
            return damaged(self, Damage::LengthOverLimit);
        }
        if u64::from(len) > left - RECORD_HEADER_LEN as u64 {
            return damaged(self, Damage::TruncatedRecord);
        }
        self.record.clear();
        self.record.resize(len as usize, 0);
        self.reader.read_exact(&mut self.record)?;
        self.offset = offset + RECORD_HEADER_LEN as u64 + u64::from(len);
        if record_crc(len_bytes, &self.record) != u32::from_le_bytes(crc_bytes) {
            return Ok(Next::Damaged { offset, damage: Damage::ChecksumMismatch });
        }
        Ok(Next::Record { offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(records: &[&[u8]]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for record in records {
            bytes.extend_from_slice(&record_header(record));
            bytes.extend_from_slice(record);
        }
        bytes
    }

    fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Next) {
        let mut reader = RecordReader::new(bytes, 0, bytes.len() as u64);
        let mut records = Vec::new();
        loop {
            match reader.next().unwrap() {
                Next::Record { .. } => records.push(reader.record().to_vec()),
                end => return (records, end),
            }
        }
    }

    #[test]
    fn segment_names_sort_like_numbers_and_parse_back() {
        assert_eq!(segment_file_name(SegmentId(42)), "00000000000000000042.wal");
        assert!(segment_file_name(SegmentId(9)) < segment_file_name(SegmentId(10)));
        assert_eq!(parse_segment_file_name("00000000000000000042.wal"), Some(SegmentId(42)));
        assert_eq!(
            parse_segment_file_name(&segment_file_name(SegmentId(u64::MAX))),
            Some(SegmentId(u64::MAX))
        );
        for other in ["42.wal", "0000000000000000004x.wal", "00000000000000000042.tmp", "LOCK"] {
            assert_eq!(parse_segment_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn header_checks() {
        assert_eq!(check_segment_header(&segment_header()), HeaderCheck::Valid { version: 1 });
        assert_eq!(check_segment_header(&segment_header()[..11]), HeaderCheck::Missing);
        assert_eq!(check_segment_header(&[0; 12]), HeaderCheck::Missing);
        assert_eq!(check_segment_header(b"NOTAWAL!\x01\0\0\0"), HeaderCheck::NotWal);
        let mut newer = segment_header();
        newer[8..].copy_from_slice(&7u32.to_le_bytes());
        assert_eq!(check_segment_header(&newer), HeaderCheck::Newer { version: 7 });
    }

    #[test]
    fn records_round_trip_including_empty_ones() {
        let bytes = segment(&[b"one", b"", b"three"]);
        let (records, end) = read_all(&bytes);
        assert_eq!(records, [b"one".to_vec(), Vec::new(), b"three".to_vec()]);
        assert_eq!(end, Next::End);
    }

    #[test]
    fn zeros_are_never_an_empty_record() {
        let mut bytes = segment(&[b"one"]);
        let good = bytes.len() as u64;
        bytes.extend_from_slice(&[0; 4096]);
        assert_eq!(read_all(&bytes).1, Next::Damaged { offset: good, damage: Damage::ZeroFilled });
        bytes.truncate(good as usize + 5);
        assert_eq!(read_all(&bytes).1, Next::Damaged { offset: good, damage: Damage::ZeroFilled });
    }

    #[test]
    fn a_flipped_length_bit_is_caught() {
        let mut bytes = segment(&[b"hello world", b"next"]);
        bytes[0] ^= 0b10; // 11 -> 9: still inside the file
        let (records, end) = read_all(&bytes);
        assert!(records.is_empty());
        assert!(matches!(end, Next::Damaged { offset: 0, .. }), "{end:?}");
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let bytes = segment(&[b"hello"]);
        let at = |bytes: &[u8]| read_all(bytes).1;
        assert_eq!(at(&bytes[..3]), Next::Damaged { offset: 0, damage: Damage::TruncatedHeader });
        assert_eq!(at(&bytes[..10]), Next::Damaged { offset: 0, damage: Damage::TruncatedRecord });
        let mut flipped = bytes.clone();
        flipped[9] ^= 1;
        assert_eq!(at(&flipped), Next::Damaged { offset: 0, damage: Damage::ChecksumMismatch });
        let mut huge = bytes.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(at(&huge), Next::Damaged { offset: 0, damage: Damage::LengthOverLimit });
    }
}
