//! The layout of the data directory and the small files beside the WAL and the blocks.
//!
//! ```text
//! <dir>/kiseki-store      format version of the directory ("kiseki-store 1")
//! <dir>/LOCK              held locked by the process that has the store open
//! <dir>/wal/              WAL segments
//! <dir>/blocks/<id>/      one immutable block each
//! <dir>/wal-checkpoint    WAL segments up to this one are in blocks ("kiseki-wal-checkpoint 1 <n>")
//! <dir>/deleted-before    spans that started before this are deleted ("kiseki-deleted-before 1 <ns>")
//! ```
//!
//! The small files are replaced whole by writing a temporary file, syncing it and renaming it.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use kiseki_model::Span;

use super::wal::SegmentId;

/// The version of the directory layout this build writes and reads.
pub const DIR_FORMAT_VERSION: u32 = 1;

const DIR_VERSION_FILE: &str = "kiseki-store";
const CHECKPOINT_FILE: &str = "wal-checkpoint";
const DELETED_BEFORE_FILE: &str = "deleted-before";

/// An open data directory, locked against a second process.
pub struct StoreDir {
    root: PathBuf,
    _lock: File,
}

impl StoreDir {
    /// Creates the directory when missing, checks its version and takes its lock.
    pub fn open(root: &Path) -> io::Result<Self> {
        fs::create_dir_all(root)?;
        let lock =
            File::options().create(true).truncate(false).write(true).open(root.join("LOCK"))?;
        lock.try_lock().map_err(|_| {
            io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!("{} is in use by another kiseki process", root.display()),
            )
        })?;
        let version_path = root.join(DIR_VERSION_FILE);
        match read_tagged(&version_path, DIR_VERSION_FILE)? {
            Some(version) if version == u64::from(DIR_FORMAT_VERSION) => {}
            Some(version) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} has store format {version}; this build reads format {DIR_FORMAT_VERSION}",
                        root.display()
                    ),
                ));
            }
            None => write_tagged(&version_path, DIR_VERSION_FILE, u64::from(DIR_FORMAT_VERSION))?,
        }
        fs::create_dir_all(root.join("blocks"))?;
        Ok(Self { root: root.to_path_buf(), _lock: lock })
    }

    pub fn wal(&self) -> PathBuf {
        self.root.join("wal")
    }

    pub fn blocks(&self) -> PathBuf {
        self.root.join("blocks")
    }

    /// The last WAL segment whose spans are all in blocks.
    pub fn read_checkpoint(&self) -> io::Result<Option<SegmentId>> {
        Ok(read_tagged(&self.root.join(CHECKPOINT_FILE), "kiseki-wal-checkpoint")?.map(SegmentId))
    }

    pub fn write_checkpoint(&self, segment: SegmentId) -> io::Result<()> {
        write_tagged(&self.root.join(CHECKPOINT_FILE), "kiseki-wal-checkpoint", segment.0)
    }

    pub fn read_deleted_before(&self) -> io::Result<u64> {
        Ok(read_tagged(&self.root.join(DELETED_BEFORE_FILE), "kiseki-deleted-before")?.unwrap_or(0))
    }

    pub fn write_deleted_before(&self, cutoff_unix_nano: u64) -> io::Result<()> {
        write_tagged(
            &self.root.join(DELETED_BEFORE_FILE),
            "kiseki-deleted-before",
            cutoff_unix_nano,
        )
    }
}

/// Reads `<tag> 1 <number>`; `None` when the file does not exist.
fn read_tagged(path: &Path, tag: &str) -> io::Result<Option<u64>> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not a {tag} file", path.display()),
        )
    };
    let mut words = text.split_whitespace();
    if words.next() != Some(tag) || words.next() != Some("1") {
        return Err(invalid());
    }
    let value = words.next().and_then(|w| w.parse().ok()).ok_or_else(invalid)?;
    Ok(Some(value))
}

fn write_tagged(path: &Path, tag: &str, value: u64) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp)?;
        writeln!(file, "{tag} 1 {value}")?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

/// The WAL record of a batch of spans: an OTLP `ExportTraceServiceRequest`, which keeps every
/// field of the model and has a decoder that is fuzzed and fast.
pub fn encode_record(spans: &[Span]) -> Vec<u8> {
    kiseki_codec::otlp::encode_traces_proto(spans)
}

pub fn decode_record(record: &[u8]) -> Result<Vec<Span>, kiseki_codec::otlp::DecodeError> {
    let decoded = kiseki_codec::otlp::decode_traces_proto(record)?;
    Ok(decoded.spans)
}

/// Bytes of the files in `dir` (not recursive); 0 when it cannot be read.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_every_span_field() {
        // Spans come back grouped by resource and scope, as OTLP carries them.
        let mut spans = kiseki_testkit::Generator::new(6).spans(300, 1_000);
        let mut decoded = decode_record(&encode_record(&spans)).unwrap();
        spans.sort_by_key(|s| s.span_id);
        decoded.sort_by_key(|s| s.span_id);
        assert_eq!(decoded, spans);
    }

    #[test]
    fn small_files_round_trip_and_refuse_foreign_content() {
        let dir = crate::embedded::testing::TestDir::new("files");
        let store_dir = StoreDir::open(dir.path()).unwrap();
        assert_eq!(store_dir.read_checkpoint().unwrap(), None);
        store_dir.write_checkpoint(SegmentId(42)).unwrap();
        assert_eq!(store_dir.read_checkpoint().unwrap(), Some(SegmentId(42)));
        store_dir.write_deleted_before(7).unwrap();
        assert_eq!(store_dir.read_deleted_before().unwrap(), 7);
        assert!(StoreDir::open(dir.path()).is_err(), "a second open is refused while locked");
        drop(store_dir);
        fs::write(dir.path().join(CHECKPOINT_FILE), "something else").unwrap();
        let store_dir = StoreDir::open(dir.path()).unwrap();
        assert!(store_dir.read_checkpoint().is_err());
        drop(store_dir);
        fs::write(dir.path().join(DIR_VERSION_FILE), "kiseki-store 1 2").unwrap();
        assert!(StoreDir::open(dir.path()).is_err(), "a newer layout is refused");
    }
}
