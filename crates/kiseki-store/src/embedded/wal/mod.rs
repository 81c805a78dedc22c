//! The write-ahead log of the embedded store: records are on disk before anyone is told so.
//!
//! The log is a directory of segment files (`00000000000000000042.wal`), each a versioned header
//! and then length-prefixed, CRC-checked records (the `format` module has the bytes). Records are
//! opaque here; the engine encodes spans into them and decodes them on replay.
//!
//! **Group commit.** One writer thread owns the active segment. It takes every request waiting
//! in the queue, writes them with a few large writes, calls `fdatasync` once, and only then
//! completes them all, so many concurrent appenders share one sync.
//!
//! **Ordered apply.** Each append carries a payload `T` (the engine's decoded spans). After the
//! sync and before any appender of the group is answered, the writer thread hands the group's
//! payloads, in log order, with the segment they went to, to the engine's [`Applier`]. A rotation
//! goes through the same queue: every record of the closed segment has been applied before
//! [`Applier::segment_closed`] is called, and no record of the new segment before it.
//!
//! **Failures.** When a write or sync fails (a full disk, say), every request of that group gets
//! [`WalError::DiskFull`] or [`WalError::Io`], the segment is cut back to the end of the last
//! durable record, and later requests are tried again as usual. Durable records are never
//! rewritten. When the queue is full, appends fail at once with [`WalError::Overloaded`].
//!
//! **Replay.** [`Wal::open`] reads every segment in order and hands each intact record to the
//! caller. A torn tail in the last segment is cut off; damage in an older segment is skipped and
//! kept on disk; both are logged and listed in the [`ReplayReport`]. Only a segment of a newer
//! format version, or a read error, stops the open.

mod format;
mod replay;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};

use tokio::sync::{oneshot, watch};

pub use format::{Damage, FORMAT_VERSION, MAX_RECORD_BYTES};
pub use replay::{ReplayReport, SegmentEnd, SegmentReplay};

use writer::{SegmentIo, StdSegmentIo, Writer};

/// The number of a segment file. Numbers only grow; a new segment gets the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct SegmentId(pub u64);

impl SegmentId {
    /// The segment after this one.
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl std::fmt::Display for SegmentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a record is: its segment and the offset of its header in the segment file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordLocation {
    pub segment: SegmentId,
    pub offset: u64,
}

/// The segment a [`Wal::rotate`] closed and the one it opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    pub closed: SegmentId,
    pub opened: SegmentId,
}

/// Receives durable records' payloads on the writer thread, in log order.
///
/// Calls happen after the records are synced and before their appenders are answered, so
/// whatever `apply` does is visible by the time an append returns. Keep the calls short: the
/// next group waits for them. A closure `FnMut(SegmentId, Vec<T>)` is an applier whose
/// `segment_closed` does nothing.
pub trait Applier<T>: Send + 'static {
    /// The payloads of one group of records, all in `segment`, in the order they were logged.
    fn apply(&mut self, segment: SegmentId, payloads: Vec<T>);

    /// `closed` gets no more records; the next ones go to `opened`. Every record of `closed`
    /// was applied before this call.
    fn segment_closed(&mut self, closed: SegmentId, opened: SegmentId) {
        let _ = (closed, opened);
    }
}

impl<T, F> Applier<T> for F
where
    F: FnMut(SegmentId, Vec<T>) + Send + 'static,
{
    fn apply(&mut self, segment: SegmentId, payloads: Vec<T>) {
        self(segment, payloads);
    }
}

/// How a WAL is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalConfig {
    /// The directory of the segment files; created when missing.
    pub dir: PathBuf,
    /// Larger records are refused with [`WalError::RecordTooLarge`]. At most [`MAX_RECORD_BYTES`].
    pub max_record_bytes: usize,
    /// Appends waiting or being written, beyond which new ones get [`WalError::Overloaded`].
    pub max_pending_records: usize,
    /// Record bytes waiting or being written, beyond which new appends get
    /// [`WalError::Overloaded`]. A record is always accepted when nothing else is pending, so a
    /// record larger than this still goes through alone.
    pub max_pending_bytes: usize,
}

impl WalConfig {
    /// Defaults sized for OTLP batches: records up to 64 MiB, up to 128 MiB or 16384 records
    /// pending.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            max_record_bytes: 64 << 20,
            max_pending_records: 16_384,
            max_pending_bytes: 128 << 20,
        }
    }

    fn validate(&self) -> Result<(), WalError> {
        if self.max_record_bytes > MAX_RECORD_BYTES {
            return Err(WalError::InvalidConfig("max_record_bytes is over the format's limit"));
        }
        if self.max_pending_records == 0 {
            return Err(WalError::InvalidConfig("max_pending_records must be at least 1"));
        }
        Ok(())
    }
}

/// Why the WAL could not do what was asked.
///
/// For receivers: [`Overloaded`](Self::Overloaded) means retry later (429);
/// [`DiskFull`](Self::DiskFull), [`Io`](Self::Io) and [`Closed`](Self::Closed) mean the store
/// cannot take data now (503); [`RecordTooLarge`](Self::RecordTooLarge) means the batch must be
/// split.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WalError {
    /// Too many appends are pending; nothing was written.
    #[error("wal queue is full")]
    Overloaded,
    /// The record is over [`WalConfig::max_record_bytes`]; nothing was written.
    #[error("wal record of {len} bytes is over the limit of {max} bytes")]
    RecordTooLarge { len: usize, max: usize },
    /// The disk, the quota or the file size limit has no room. Durable records are intact.
    #[error("no space left to {action} {}", path.display())]
    DiskFull {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// Any other I/O error. Durable records are intact.
    #[error("could not {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    /// The WAL was closed, or its writer thread ended by a panic in the applier.
    #[error("wal is closed")]
    Closed,
    /// A segment was written by a newer build; open it with that build.
    #[error(
        "wal segment {} has format version {version}; this build reads versions up to {supported}",
        path.display()
    )]
    UnsupportedVersion { path: PathBuf, version: u32, supported: u32 },
    /// Another process holds the directory's lock.
    #[error("wal directory {} is in use by another process", path.display())]
    Locked { path: PathBuf },
    /// The active segment cannot be deleted; `segment` is the active one.
    #[error("wal segment {segment} is still being written")]
    SegmentActive { segment: SegmentId },
    /// A [`WalConfig`] field is out of range.
    #[error("invalid wal config: {0}")]
    InvalidConfig(&'static str),
}

impl WalError {
    /// Files an I/O error under [`DiskFull`](Self::DiskFull) when it says there is no room
    /// (no space, over quota, over the file size limit), else under [`Io`](Self::Io).
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        let path = path.to_path_buf();
        let source = Arc::new(source);
        match source.kind() {
            io::ErrorKind::StorageFull
            | io::ErrorKind::QuotaExceeded
            | io::ErrorKind::FileTooLarge => Self::DiskFull { action, path, source },
            _ => Self::Io { action, path, source },
        }
    }
}

/// Counters for metrics; totals since the WAL was opened, except the `pending_*` gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalStats {
    /// Records made durable.
    pub records: u64,
    /// Bytes made durable, record headers included.
    pub bytes: u64,
    /// Groups of records written and synced together.
    pub groups: u64,
    /// `fsync`/`fdatasync` calls, on segments and on the directory, failed ones included.
    pub syncs: u64,
    /// Groups whose write or sync failed; each of their appends got an error.
    pub failed_groups: u64,
    /// Appends refused because the queue was full.
    pub overloaded: u64,
    /// Segment files created.
    pub segments_created: u64,
    /// Appends waiting or being written now.
    pub pending_records: u64,
    /// Record bytes waiting or being written now.
    pub pending_bytes: u64,
    /// The segment new records go to.
    pub active_segment: SegmentId,
}

/// The write-ahead log. Share it behind an `Arc`; every method takes `&self`.
///
/// Dropping it writes what is queued, then stops the writer thread, blocking until then (about
/// one sync). [`close`](Self::close) does the same without blocking a runtime thread.
pub struct Wal<T: Send + 'static> {
    shared: Arc<Shared<T>>,
    dir: PathBuf,
    max_record_bytes: usize,
    writer: Mutex<Option<JoinHandle<()>>>,
    stopped: watch::Receiver<bool>,
    /// Holds the directory's lock file locked for as long as the WAL is open.
    _lock: File,
}

impl<T: Send + 'static> Wal<T> {
    /// Opens the WAL in `config.dir`, handing every intact record of the existing segments to
    /// `on_record` in log order, then starts the writer thread.
    ///
    /// New records go on after the last segment when it is intact and of this format version,
    /// else into a new segment.
    pub fn open(
        config: WalConfig,
        applier: impl Applier<T>,
        on_record: impl FnMut(RecordLocation, &[u8]),
    ) -> Result<(Self, ReplayReport), WalError> {
        Self::open_with(config, Box::new(applier), on_record, Box::new(StdSegmentIo))
    }

    fn open_with(
        config: WalConfig,
        applier: Box<dyn Applier<T>>,
        mut on_record: impl FnMut(RecordLocation, &[u8]),
        io: Box<dyn SegmentIo>,
    ) -> Result<(Self, ReplayReport), WalError> {
        config.validate()?;
        let dir = config.dir;
        fs::create_dir_all(&dir).map_err(|e| WalError::io("create directory", &dir, e))?;
        let lock = lock_dir(&dir)?;
        let replayed = replay::replay(&dir, &mut on_record)?;
        let mut report = replayed.report;
        let shared = Arc::new(Shared::new(config.max_pending_records, config.max_pending_bytes));
        let writer = match replayed.reusable {
            Some(last) => {
                Writer::continue_segment(dir.clone(), io, applier, Arc::clone(&shared), last)?
            }
            None => {
                let first = replayed.last.map_or(SegmentId(1), SegmentId::next);
                Writer::new_segment(dir.clone(), io, applier, Arc::clone(&shared), first)?
            }
        };
        report.active = writer.active_segment();
        shared.active.store(report.active.0, Ordering::Relaxed);
        let (stopped_tx, stopped) = watch::channel(false);
        let handle = thread::Builder::new()
            .name("kiseki-wal".into())
            .spawn(move || writer.run(stopped_tx))
            .map_err(|e| WalError::io("start the writer thread for", &dir, e))?;
        let wal = Self {
            shared,
            dir,
            max_record_bytes: config.max_record_bytes,
            writer: Mutex::new(Some(handle)),
            stopped,
            _lock: lock,
        };
        Ok((wal, report))
    }

    /// Logs `record` and returns once it is durable and `payload` was applied.
    ///
    /// Fails at once with [`WalError::Overloaded`] when the queue is full. If the future is
    /// dropped after its first poll, the record may still be logged and applied.
    pub async fn append(&self, record: Vec<u8>, payload: T) -> Result<RecordLocation, WalError> {
        if record.len() > self.max_record_bytes {
            return Err(WalError::RecordTooLarge { len: record.len(), max: self.max_record_bytes });
        }
        let (done, answer) = oneshot::channel();
        self.shared.push_append(Append { record, payload, done })?;
        answer.await.unwrap_or(Err(WalError::Closed))
    }

    /// Closes the active segment after every record queued before this call and opens the next
    /// one; the [`Applier`] hears of it before this returns.
    pub async fn rotate(&self) -> Result<Rotation, WalError> {
        let (done, answer) = oneshot::channel();
        self.shared.push(Request::Rotate(done))?;
        answer.await.unwrap_or(Err(WalError::Closed))
    }

    /// Deletes every segment file numbered `up_to` or lower, then syncs the directory. Returns
    /// the segments deleted. The active segment cannot be deleted. Blocking file I/O.
    pub fn remove_segments_up_to(&self, up_to: SegmentId) -> Result<Vec<SegmentId>, WalError> {
        let active = SegmentId(self.shared.active.load(Ordering::Relaxed));
        if up_to >= active {
            return Err(WalError::SegmentActive { segment: active });
        }
        let mut removed = Vec::new();
        for segment in replay::list_segments(&self.dir)? {
            if segment > up_to {
                break;
            }
            let path = self.dir.join(format::segment_file_name(segment));
            match fs::remove_file(&path) {
                Ok(()) => removed.push(segment),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(WalError::io("delete", &path, e)),
            }
        }
        if !removed.is_empty() {
            self.shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
            writer::sync_dir(&self.dir)
                .map_err(|e| WalError::io("sync directory", &self.dir, e))?;
        }
        Ok(removed)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> WalStats {
        let counters = &self.shared.counters;
        let (pending_records, pending_bytes) = {
            let queue = self.shared.lock();
            (queue.pending_records as u64, queue.pending_bytes as u64)
        };
        WalStats {
            records: counters.records.load(Ordering::Relaxed),
            bytes: counters.bytes.load(Ordering::Relaxed),
            groups: counters.groups.load(Ordering::Relaxed),
            syncs: counters.syncs.load(Ordering::Relaxed),
            failed_groups: counters.failed_groups.load(Ordering::Relaxed),
            overloaded: counters.overloaded.load(Ordering::Relaxed),
            segments_created: counters.segments_created.load(Ordering::Relaxed),
            pending_records,
            pending_bytes,
            active_segment: SegmentId(self.shared.active.load(Ordering::Relaxed)),
        }
    }

    /// Writes what is queued, stops the writer thread, and refuses later appends with
    /// [`WalError::Closed`].
    pub async fn close(&self) {
        self.shared.close();
        let mut stopped = self.stopped.clone();
        // An error means the writer dropped its end, which it does only once stopped.
        let _ = stopped.wait_for(|stopped| *stopped).await;
        self.join_writer();
    }

    fn join_writer(&self) {
        let handle = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle {
            // An applier that drops the WAL would otherwise wait for itself.
            if handle.thread().id() != thread::current().id() {
                // A panic in the applier was already reported by the panic hook.
                let _ = handle.join();
            }
        }
    }
}

impl<T: Send + 'static> Drop for Wal<T> {
    fn drop(&mut self) {
        self.shared.close();
        self.join_writer();
    }
}

/// Takes the lock file of `dir`, so two processes never write one WAL.
fn lock_dir(dir: &Path) -> Result<File, WalError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| WalError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(WalError::Locked { path: dir.to_path_buf() }),
        Err(TryLockError::Error(e)) => Err(WalError::io("lock", &path, e)),
    }
}

/// One append waiting for the writer.
struct Append<T> {
    record: Vec<u8>,
    payload: T,
    done: oneshot::Sender<Result<RecordLocation, WalError>>,
}

enum Request<T> {
    Append(Append<T>),
    Rotate(oneshot::Sender<Result<Rotation, WalError>>),
}

/// What appenders and the writer thread share.
struct Shared<T> {
    queue: Mutex<Queue<T>>,
    /// Wakes the writer when a request arrives or the WAL closes.
    wake: Condvar,
    counters: Counters,
    /// The active segment's number, for stats and for refusing to delete it.
    active: AtomicU64,
    max_pending_records: usize,
    max_pending_bytes: usize,
}

struct Queue<T> {
    requests: VecDeque<Request<T>>,
    /// Appends queued or in the writer's current group; lowered once they are answered.
    pending_records: usize,
    pending_bytes: usize,
    closed: bool,
}

#[derive(Default)]
struct Counters {
    records: AtomicU64,
    bytes: AtomicU64,
    groups: AtomicU64,
    syncs: AtomicU64,
    failed_groups: AtomicU64,
    overloaded: AtomicU64,
    segments_created: AtomicU64,
}

impl<T> Shared<T> {
    fn new(max_pending_records: usize, max_pending_bytes: usize) -> Self {
        Self {
            queue: Mutex::new(Queue {
                requests: VecDeque::new(),
                pending_records: 0,
                pending_bytes: 0,
                closed: false,
            }),
            wake: Condvar::new(),
            counters: Counters::default(),
            active: AtomicU64::new(0),
            max_pending_records,
            max_pending_bytes,
        }
    }

    /// The queue, also after a panic elsewhere: its state is valid between any two statements.
    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push_append(&self, append: Append<T>) -> Result<(), WalError> {
        let len = append.record.len();
        let mut queue = self.lock();
        if queue.closed {
            return Err(WalError::Closed);
        }
        let over = queue.pending_records >= self.max_pending_records
            || (queue.pending_records > 0 && queue.pending_bytes + len > self.max_pending_bytes);
        if over {
            drop(queue);
            self.counters.overloaded.fetch_add(1, Ordering::Relaxed);
            return Err(WalError::Overloaded);
        }
        queue.pending_records += 1;
        queue.pending_bytes += len;
        queue.requests.push_back(Request::Append(append));
        drop(queue);
        self.wake.notify_one();
        Ok(())
    }

    fn push(&self, request: Request<T>) -> Result<(), WalError> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(WalError::Closed);
        }
        queue.requests.push_back(request);
        drop(queue);
        self.wake.notify_one();
        Ok(())
    }

    /// Waits until there are requests and moves them all into `batch`; `false` once the WAL is
    /// closed and nothing is left.
    fn wait_for_requests(&self, batch: &mut Vec<Request<T>>) -> bool {
        let mut queue = self.lock();
        while queue.requests.is_empty() {
            if queue.closed {
                return false;
            }
            queue = self.wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
        }
        batch.extend(queue.requests.drain(..));
        true
    }

    /// The writer answered `records` appends of `bytes` bytes.
    fn release(&self, records: usize, bytes: usize) {
        let mut queue = self.lock();
        queue.pending_records -= records;
        queue.pending_bytes -= bytes;
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// Refuses everything still queued; the writer calls this on its way out.
    fn close_and_refuse_pending(&self) {
        let requests = {
            let mut queue = self.lock();
            queue.closed = true;
            std::mem::take(&mut queue.requests)
        };
        for request in requests {
            match request {
                Request::Append(append) => {
                    let _ = append.done.send(Err(WalError::Closed));
                }
                Request::Rotate(done) => {
                    let _ = done.send(Err(WalError::Closed));
                }
            }
        }
    }
}
