//! Reading the log back at start-up: every intact record goes to the engine, damage is cut off
//! or skipped, and everything found is reported instead of stopping the start.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::format::{
    self, Damage, FORMAT_VERSION, HeaderCheck, Next, RecordReader, SEGMENT_HEADER_LEN,
};
use super::{RecordLocation, SegmentId, WalError};

/// What [`Wal::open`](super::Wal::open) found in the existing segments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplayReport {
    /// Every segment file, in log order.
    pub segments: Vec<SegmentReplay>,
    /// The segment new records go to.
    pub active: SegmentId,
}

impl ReplayReport {
    /// Records handed to the caller.
    pub fn records(&self) -> u64 {
        self.segments.iter().map(|segment| segment.records).sum()
    }

    /// Whether every segment was whole: no damage, nothing skipped or cut off.
    pub fn is_clean(&self) -> bool {
        self.segments
            .iter()
            .all(|segment| segment.end == SegmentEnd::Clean && segment.skipped_records == 0)
    }
}

/// What replay found in one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentReplay {
    pub segment: SegmentId,
    /// Intact records handed to the caller.
    pub records: u64,
    /// Their data bytes, headers not counted.
    pub record_bytes: u64,
    /// Records skipped for a bad checksum while the records after them were intact.
    pub skipped_records: u64,
    pub end: SegmentEnd,
}

/// How a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentEnd {
    /// Every byte after the header belongs to an intact record.
    Clean,
    /// The last segment ended in damage, as a crash during a write leaves it; the file was cut
    /// to `at` bytes, the end of its last intact record.
    TruncatedTail { at: u64, removed_bytes: u64, damage: Damage },
    /// An older segment is damaged from `at` on; the rest was skipped and left on disk.
    SkippedTail { at: u64, skipped_bytes: u64, damage: Damage },
    /// Shorter than a header or all zeros, as a crash right after creating the file leaves it.
    /// When it is the last segment its header is rewritten and new records go there.
    MissingHeader { file_len: u64 },
    /// Not a WAL segment; skipped and left on disk.
    NotWal,
}

/// The last segment, intact and of this format version: new records can follow its records.
pub(super) struct ReusableSegment {
    pub id: SegmentId,
    pub path: PathBuf,
    pub file: File,
    /// Where the next record goes.
    pub len: u64,
}

pub(super) struct Replayed {
    pub report: ReplayReport,
    pub reusable: Option<ReusableSegment>,
    /// The highest segment number found.
    pub last: Option<SegmentId>,
}

/// The segments in `dir`, in log order.
pub(super) fn list_segments(dir: &Path) -> Result<Vec<SegmentId>, WalError> {
    let read_err = |e| WalError::io("list", dir, e);
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        if let Some(segment) = entry.file_name().to_str().and_then(format::parse_segment_file_name)
        {
            segments.push(segment);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Hands every intact record in `dir` to `on_record`, in log order, repairing the last segment.
pub(super) fn replay(
    dir: &Path,
    on_record: &mut dyn FnMut(RecordLocation, &[u8]),
) -> Result<Replayed, WalError> {
    let segments = list_segments(dir)?;
    let mut report = ReplayReport::default();
    let mut reusable = None;
    for (index, &segment) in segments.iter().enumerate() {
        let last = index + 1 == segments.len();
        let (replayed, file) = replay_segment(dir, segment, last, on_record)?;
        report.segments.push(replayed);
        reusable = file;
    }
    if reusable.is_some() {
        // The segment may have been created just before a crash, its name not yet synced.
        super::writer::sync_dir(dir).map_err(|e| WalError::io("sync directory", dir, e))?;
    }
    if !segments.is_empty() {
        tracing::info!(
            dir = %dir.display(),
            segments = segments.len(),
            records = report.records(),
            clean = report.is_clean(),
            "replayed wal"
        );
    }
    Ok(Replayed { report, reusable, last: segments.last().copied() })
}

fn replay_segment(
    dir: &Path,
    segment: SegmentId,
    last: bool,
    on_record: &mut dyn FnMut(RecordLocation, &[u8]),
) -> Result<(SegmentReplay, Option<ReusableSegment>), WalError> {
    let path = dir.join(format::segment_file_name(segment));
    let read_err = |e| WalError::io("read", &path, e);
    let repair_err = |e| WalError::io("repair", &path, e);
    let mut file = OpenOptions::new().read(true).write(last).open(&path).map_err(read_err)?;
    let file_len = file.metadata().map_err(read_err)?.len();
    let mut replay = SegmentReplay {
        segment,
        records: 0,
        record_bytes: 0,
        skipped_records: 0,
        end: SegmentEnd::Clean,
    };

    let mut header = Vec::with_capacity(SEGMENT_HEADER_LEN as usize);
    (&file).take(SEGMENT_HEADER_LEN).read_to_end(&mut header).map_err(read_err)?;
    let mut check = format::check_segment_header(&header);
    if check == HeaderCheck::Missing && !rest_is_zero(&file).map_err(read_err)? {
        check = HeaderCheck::NotWal;
    }
    let version = match check {
        HeaderCheck::Valid { version } => version,
        HeaderCheck::Newer { version } => {
            return Err(WalError::UnsupportedVersion { path, version, supported: FORMAT_VERSION });
        }
        HeaderCheck::NotWal => {
            tracing::warn!(segment = segment.0, path = %path.display(), "skipped a file that is not a wal segment");
            replay.end = SegmentEnd::NotWal;
            return Ok((replay, None));
        }
        HeaderCheck::Missing => {
            replay.end = SegmentEnd::MissingHeader { file_len };
            tracing::warn!(
                segment = segment.0,
                path = %path.display(),
                file_len,
                rewritten = last,
                "wal segment has no header; it was created just before a crash"
            );
            if !last {
                return Ok((replay, None));
            }
            file.set_len(0).map_err(repair_err)?;
            file.seek(SeekFrom::Start(0)).map_err(repair_err)?;
            file.write_all(&format::segment_header()).map_err(repair_err)?;
            file.sync_all().map_err(repair_err)?;
            let reusable = ReusableSegment { id: segment, path, file, len: SEGMENT_HEADER_LEN };
            return Ok((replay, Some(reusable)));
        }
    };

    let damaged = {
        let mut reader = RecordReader::new(
            BufReader::with_capacity(1 << 20, &file),
            SEGMENT_HEADER_LEN,
            file_len,
        );
        // A record whose checksum failed: skipped if an intact record follows it, else the
        // start of a damaged tail.
        let mut suspect = None;
        loop {
            match reader.next().map_err(read_err)? {
                Next::Record { offset } => {
                    if let Some(bad) = suspect.take() {
                        replay.skipped_records += 1;
                        tracing::warn!(
                            segment = segment.0,
                            path = %path.display(),
                            offset = bad,
                            "skipped a wal record with a bad checksum"
                        );
                    }
                    let record = reader.record();
                    replay.records += 1;
                    replay.record_bytes += record.len() as u64;
                    on_record(RecordLocation { segment, offset }, record);
                }
                Next::End => break suspect.map(|at| (at, Damage::ChecksumMismatch)),
                Next::Damaged { offset, damage: Damage::ChecksumMismatch } if suspect.is_none() => {
                    suspect = Some(offset);
                }
                Next::Damaged { offset, damage } => {
                    break Some(
                        suspect.map_or((offset, damage), |at| (at, Damage::ChecksumMismatch)),
                    );
                }
            }
        }
    };

    let reusable_len = match damaged {
        None => file_len,
        Some((at, damage)) if last => {
            file.set_len(at).map_err(repair_err)?;
            file.sync_all().map_err(repair_err)?;
            replay.end = SegmentEnd::TruncatedTail { at, removed_bytes: file_len - at, damage };
            tracing::warn!(
                segment = segment.0,
                path = %path.display(),
                at,
                removed_bytes = file_len - at,
                %damage,
                records = replay.records,
                "cut a torn tail off the wal"
            );
            at
        }
        Some((at, damage)) => {
            replay.end = SegmentEnd::SkippedTail { at, skipped_bytes: file_len - at, damage };
            tracing::warn!(
                segment = segment.0,
                path = %path.display(),
                at,
                skipped_bytes = file_len - at,
                %damage,
                records = replay.records,
                "skipped the damaged rest of an older wal segment"
            );
            return Ok((replay, None));
        }
    };
    let reusable = (last && version == FORMAT_VERSION).then(|| ReusableSegment {
        id: segment,
        path,
        file,
        len: reusable_len,
    });
    Ok((replay, reusable))
}

/// Whether every byte from the current position of `file` to its end is zero.
fn rest_is_zero(mut file: &File) -> std::io::Result<bool> {
    let mut chunk = vec![0; 64 << 10];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) if chunk[..n].iter().any(|&b| b != 0) => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
