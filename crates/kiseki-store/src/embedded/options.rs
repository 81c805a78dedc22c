//! What an operator can tune in the embedded store, with defaults for one ordinary machine.

use std::path::PathBuf;
use std::time::Duration;

/// Settings of an [`EmbeddedStore`](super::EmbeddedStore).
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddedOptions {
    /// Where the WAL and the blocks live.
    pub dir: PathBuf,
    /// The head is cut into a block when it holds this many spans.
    pub head_max_spans: usize,
    /// ... or when its oldest span arrived this long ago.
    pub head_max_age: Duration,
    /// Cut heads that may wait for their block; beyond this, appends are refused as overloaded,
    /// so memory stays bounded by about `(1 + this) * head_max_spans` spans.
    pub max_unflushed_heads: usize,
    /// Blocks whose spans all started longer ago than this are deleted.
    pub retention_max_age: Option<Duration>,
    /// The oldest blocks are deleted while blocks and WAL take more bytes than this.
    pub retention_max_bytes: Option<u64>,
    /// The most blocks of one level merged into one of the next. Fewer are merged when their
    /// spans already fill a block of `max_block_spans`.
    pub compaction_fan_in: usize,
    /// Compaction does not make blocks with more spans than this.
    pub max_block_spans: u64,
    /// Append requests that may wait for the WAL writer before appends are refused.
    pub wal_queue_records: usize,
}

impl EmbeddedOptions {
    pub const DEFAULT_DIR: &str = "./data";

    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            head_max_spans: 250_000,
            head_max_age: Duration::from_secs(120),
            max_unflushed_heads: 2,
            retention_max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            retention_max_bytes: None,
            compaction_fan_in: 32,
            max_block_spans: 8_000_000,
            wal_queue_records: 1_024,
        }
    }
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        Self::new(Self::DEFAULT_DIR)
    }
}
