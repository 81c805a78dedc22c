//! Immutable blocks of the embedded store: spans in a Parquet file sorted by trace id, with a
//! block index beside it that stays in memory while the block is open.
//!
//! A block is a directory `<blocks_dir>/<block id>/` holding `data.parquet` and `index.bin`.
//! It is written under `<id>.tmp/` and published by renaming the directory, so a crash leaves
//! either a whole block or a `.tmp` directory that [`open_blocks`] removes. Removal renames to
//! `<id>.deleted/` first, so a crash mid-removal never leaves a half block that looks whole.
//!
//! Reads check every byte against checksums kept in the index: a corrupted block gives
//! [`BlockError::Corrupt`], never a panic or a wrong span.

mod bloom;
mod catalog;
mod compact;
mod index;
mod read;
mod schema;
mod search;
mod shape;
mod values;
mod write;

#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use kiseki_model::{Span, Str, TraceId};

pub use compact::compact;
pub use schema::FORMAT_VERSION;

use crate::catalog::Catalog;
use index::BlockIndex;
use read::{DataFile, SpanDecoder};
use schema::DedicatedType;

const DATA_FILE: &str = "data.parquet";
const INDEX_FILE: &str = "index.bin";
const TMP_SUFFIX: &str = ".tmp";
const DELETED_SUFFIX: &str = ".deleted";

/// Why a block could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The disk (or quota) is full; nothing of the block was left behind.
    #[error("disk is full: {0}")]
    DiskFull(#[source] io::Error),
    #[error("block i/o failed: {0}")]
    Io(#[source] io::Error),
    /// A file of the block does not hold what it should.
    #[error("block is corrupt: {0}")]
    Corrupt(String),
    /// The block was written in a format version this build does not read.
    #[error(
        "block format version {0} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion(u32),
    /// The input does not fit in one block.
    #[error("too large for a block: {0}")]
    TooLarge(&'static str),
    /// The directory name is not a block id.
    #[error("not a block directory: {0}")]
    NotABlock(String),
}

impl From<io::Error> for BlockError {
    fn from(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                BlockError::DiskFull(error)
            }
            _ => BlockError::Io(error),
        }
    }
}

impl From<parquet::errors::ParquetError> for BlockError {
    fn from(error: parquet::errors::ParquetError) -> Self {
        match error {
            parquet::errors::ParquetError::External(inner) => match inner.downcast::<io::Error>() {
                Ok(io_error) => BlockError::from(*io_error),
                Err(other) => BlockError::Corrupt(format!("parquet: {other}")),
            },
            other => BlockError::Corrupt(format!("parquet: {other}")),
        }
    }
}

impl From<arrow_schema::ArrowError> for BlockError {
    fn from(error: arrow_schema::ArrowError) -> Self {
        match error {
            arrow_schema::ArrowError::IoError(_, io_error) => BlockError::from(io_error),
            other => BlockError::Corrupt(format!("arrow: {other}")),
        }
    }
}

/// A block's identity: creation time in unix milliseconds in the high 48 bits and 80 random
/// bits, so ids sort by creation time. Written as 32 lowercase hex digits, its directory name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(u128);

impl BlockId {
    pub fn new(unix_millis: u64, random: u128) -> Self {
        let random_mask = (1u128 << 80) - 1;
        Self((u128::from(unix_millis & ((1 << 48) - 1)) << 80) | (random & random_mask))
    }

    /// A new id for now: unique within this process and, with its random bits, across restarts.
    pub fn generate() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        // std's hasher is seeded randomly per process: a source of random bits without a crate.
        let random = {
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u64(count);
            hasher.write_u128(now.as_nanos());
            hasher.finish()
        };
        Self::new(now.as_millis() as u64, (u128::from(random) << 16) | u128::from(count as u16))
    }

    pub fn created_unix_millis(self) -> u64 {
        (self.0 >> 80) as u64
    }

    pub fn get(self) -> u128 {
        self.0
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl FromStr for BlockId {
    type Err = BlockError;

    fn from_str(text: &str) -> Result<Self, BlockError> {
        let valid =
            text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let parsed = valid.then(|| u128::from_str_radix(text, 16).ok()).flatten();
        parsed.map(BlockId).ok_or_else(|| BlockError::NotABlock(text.to_string()))
    }
}

/// What a block holds, for the engine's planning (retention, compaction, search order).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockMeta {
    pub format_version: u32,
    /// How many compactions made this block (0 for a block written from the head).
    pub level: u32,
    pub span_count: u64,
    pub trace_count: u64,
    /// Bytes of the data file.
    pub data_bytes: u64,
    /// Bytes of the index file.
    pub index_bytes: u64,
    pub min_start_unix_nano: u64,
    pub max_start_unix_nano: u64,
    pub max_end_unix_nano: u64,
    pub catalog: Catalog,
}

/// An open block: its index in memory, its data file open for reads.
pub struct Block {
    id: BlockId,
    dir: PathBuf,
    meta: BlockMeta,
    index: BlockIndex,
    data: DataFile,
}

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block")
            .field("id", &self.id)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Block {
    /// Opens the block in `dir` (named by its id).
    pub fn open(dir: &Path) -> Result<Self, BlockError> {
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let id: BlockId = name.parse()?;
        let bytes = fs::read(dir.join(INDEX_FILE)).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => BlockError::Corrupt("index file is missing".into()),
            _ => BlockError::from(error),
        })?;
        let index = BlockIndex::from_bytes(&bytes)?;
        Self::with_index(id, dir.to_path_buf(), index, bytes.len() as u64)
    }

    fn with_index(
        id: BlockId,
        dir: PathBuf,
        index: BlockIndex,
        index_bytes: u64,
    ) -> Result<Self, BlockError> {
        let data = DataFile::open(&dir.join(DATA_FILE), &index)?;
        let meta = BlockMeta {
            format_version: FORMAT_VERSION,
            level: index.level,
            span_count: index.span_count,
            trace_count: index.trace_count,
            data_bytes: index.data_bytes,
            index_bytes,
            min_start_unix_nano: index.min_start,
            max_start_unix_nano: index.max_start,
            max_end_unix_nano: index.max_end,
            catalog: index.catalog.to_catalog(),
        };
        Ok(Self { id, dir, meta, index, data })
    }

    pub fn id(&self) -> BlockId {
        self.id
    }

    pub fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the block may hold spans of `trace_id`, answered from memory (about 1 % false
    /// positives, never a false negative).
    pub fn may_contain(&self, trace_id: TraceId) -> bool {
        self.index.bloom.may_contain(trace_id) && !self.row_groups_of(trace_id).is_empty()
    }

    /// The row groups whose trace-id range holds `trace_id` (at most one, as a trace never
    /// spans row groups, unless the index says otherwise).
    fn row_groups_of(&self, trace_id: TraceId) -> std::ops::Range<usize> {
        let groups = &self.index.row_groups;
        let from = groups.partition_point(|g| g.last_trace < trace_id);
        let to = groups.partition_point(|g| g.first_trace <= trace_id);
        from..to.max(from)
    }

    /// Every span of `trace_id` in this block, sorted by start time; empty when there is none.
    pub fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, BlockError> {
        if !self.index.bloom.may_contain(trace_id) {
            return Ok(Vec::new());
        }
        let mut spans = Vec::new();
        let all = self.data.all_columns();
        for group in self.row_groups_of(trace_id) {
            let selection = self.data.pages_with_trace(group, trace_id);
            let batches = self.data.read(&self.index, group, &all, selection, Some(&[trace_id]))?;
            let mut decoder = SpanDecoder::new(&self.index);
            for batch in &batches {
                decoder.decode(batch, &self.data.columns, &mut |trace| {
                    spans.extend(trace);
                    Ok(())
                })?;
            }
            if let Some(trace) = decoder.finish()? {
                spans.extend(trace);
            }
        }
        Ok(spans)
    }

    /// Removes the block's files: renames the directory to `<id>.deleted` (so a crash leaves
    /// nothing that looks like a block), then deletes it.
    pub fn remove(&self) -> Result<(), BlockError> {
        // Readers that still hold this block keep their open file; the directory goes now.
        let parent = self.dir.parent().map(Path::to_path_buf).unwrap_or_default();
        let doomed = parent.join(format!("{}{DELETED_SUFFIX}", self.id));
        fs::rename(&self.dir, &doomed)?;
        sync_dir(&parent)?;
        fs::remove_dir_all(&doomed)?;
        Ok(())
    }

    pub(crate) fn index(&self) -> &BlockIndex {
        &self.index
    }

    pub(crate) fn data(&self) -> &DataFile {
        &self.data
    }
}

/// What [`open_blocks`] did not open, and what it cleaned up.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Blocks that could not be opened (corrupt, unknown version, unreadable), left in place.
    pub skipped: Vec<(PathBuf, BlockError)>,
    /// Leftovers of interrupted writes (`*.tmp`) and removals (`*.deleted`) that were deleted.
    pub removed: Vec<PathBuf>,
}

/// Opens every block in `blocks_dir` (creating the directory if needed), oldest id first.
/// A block that cannot be opened is reported and skipped; only an unreadable directory fails.
pub fn open_blocks(blocks_dir: &Path) -> Result<(Vec<Block>, OpenReport), BlockError> {
    fs::create_dir_all(blocks_dir)?;
    let mut blocks = Vec::new();
    let mut report = OpenReport::default();
    for entry in fs::read_dir(blocks_dir)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if name.ends_with(TMP_SUFFIX) || name.ends_with(DELETED_SUFFIX) {
            match fs::remove_dir_all(&path) {
                Ok(()) => report.removed.push(path),
                Err(error) => report.skipped.push((path, error.into())),
            }
            continue;
        }
        if name.parse::<BlockId>().is_err() || !path.is_dir() {
            continue;
        }
        match Block::open(&path) {
            Ok(block) => blocks.push(block),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "skipping a block that cannot be opened");
                report.skipped.push((path, error));
            }
        }
    }
    if !report.removed.is_empty() {
        sync_dir(blocks_dir)?;
    }
    blocks.sort_by_key(|block| block.id);
    Ok((blocks, report))
}

/// Writes `spans` as a new block `<blocks_dir>/<id>/` and opens it. On failure nothing is left
/// behind (a full disk gives [`BlockError::DiskFull`]).
pub fn write_block(
    blocks_dir: &Path,
    id: BlockId,
    level: u32,
    spans: Vec<Span>,
) -> Result<Block, BlockError> {
    let borrowed: Vec<&Span> = spans.iter().collect();
    write_block_of(blocks_dir, id, level, &borrowed)
}

/// [`write_block`] for spans that stay where they are (e.g. in a head still being read), so
/// writing the block needs no copy of them.
pub fn write_block_of(
    blocks_dir: &Path,
    id: BlockId,
    level: u32,
    spans: &[&Span],
) -> Result<Block, BlockError> {
    // Sort small keys rather than whole spans.
    let mut order: Vec<(TraceId, u64, u64, u32)> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.trace_id, s.start_time_unix_nano, s.span_id.get(), i as u32))
        .collect();
    if spans.len() > u32::MAX as usize {
        return Err(BlockError::TooLarge("more than 2^32 spans"));
    }
    order.sort_unstable();
    let dedicated = dedicated_keys_used(spans);
    publish(blocks_dir, id, level, dedicated, None, |writer| {
        let mut trace: Vec<&Span> = Vec::new();
        for (trace_id, _, _, i) in &order {
            if trace.first().is_some_and(|first| first.trace_id != *trace_id) {
                writer.push_trace(&trace)?;
                trace.clear();
            }
            trace.push(spans[*i as usize]);
        }
        if !trace.is_empty() {
            writer.push_trace(&trace)?;
        }
        Ok(())
    })
}

/// Writes a block with `fill` under `<id>.tmp/`, then publishes it by renaming; cleans up on
/// failure. The block's catalog is `catalog` when given, else gathered from what `fill` wrote.
fn publish(
    blocks_dir: &Path,
    id: BlockId,
    level: u32,
    dedicated: Vec<(Str, DedicatedType)>,
    catalog: Option<catalog::BlockCatalog>,
    fill: impl FnOnce(&mut write::BlockWriter) -> Result<(), BlockError>,
) -> Result<Block, BlockError> {
    let tmp = blocks_dir.join(format!("{id}{TMP_SUFFIX}"));
    let dir = blocks_dir.join(id.to_string());
    let written = (|| -> Result<(BlockIndex, u64), BlockError> {
        fs::create_dir_all(blocks_dir)?;
        if dir.exists() {
            return Err(BlockError::Io(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("block {id} exists"),
            )));
        }
        fs::create_dir(&tmp)?;
        let data_path = tmp.join(DATA_FILE);
        let mut writer = write::BlockWriter::create(&data_path, level, dedicated)?;
        fill(&mut writer)?;
        let index = writer.finish(&data_path, catalog)?;
        let bytes = index.to_bytes()?;
        let index_path = tmp.join(INDEX_FILE);
        {
            use std::io::Write;
            let mut file = File::create(&index_path)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
        }
        sync_dir(&tmp)?;
        fs::rename(&tmp, &dir)?;
        sync_dir(blocks_dir)?;
        Ok((index, bytes.len() as u64))
    })();
    match written {
        Ok((index, index_bytes)) => Block::with_index(id, dir, index, index_bytes),
        Err(error) => {
            if let Err(cleanup) = fs::remove_dir_all(&tmp)
                && cleanup.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %cleanup, path = %tmp.display(), "could not remove a failed block");
            }
            Err(error)
        }
    }
}

/// The dedicated attribute columns worth having for `spans`: those of [`schema::DEDICATED`]
/// seen, with their type, in a sample of the spans. Keys left out are kept in the packed values.
fn dedicated_keys_used(spans: &[&Span]) -> Vec<(Str, DedicatedType)> {
    let step = (spans.len() / 20_000).max(1);
    let mut used = vec![false; schema::DEDICATED.len()];
    for span in spans.iter().step_by(step) {
        for kv in span.attributes.iter() {
            let found = schema::DEDICATED.iter().position(|(key, kind)| {
                kv.key == *key
                    && matches!(
                        (kind, &kv.value),
                        (DedicatedType::Str, kiseki_model::AnyValue::Str(_))
                            | (DedicatedType::Int, kiseki_model::AnyValue::Int(_))
                    )
            });
            if let Some(i) = found {
                used[i] = true;
            }
        }
    }
    schema::DEDICATED
        .iter()
        .zip(used)
        .filter(|(_, used)| *used)
        .map(|((key, kind), _)| (Str::new(key), *kind))
        .collect()
}

/// Makes a directory's entries (creations, renames) durable.
fn sync_dir(dir: &Path) -> Result<(), BlockError> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
