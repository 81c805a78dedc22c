//! The writer thread: group commit, rotation, and recovery from failed writes.
//!
//! File I/O blocks, so one OS thread owns the active segment and does all writing. Everything it
//! touches on disk goes through [`SegmentIo`] and [`SegmentFile`], which tests replace to make
//! writes and syncs fail like a full disk would.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::watch;

use super::format::{self, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::replay::ReusableSegment;
use super::{Append, Applier, RecordLocation, Request, Rotation, SegmentId, Shared, WalError};

/// Bytes gathered before one `write` call; records this large or larger are written directly
/// instead of being copied.
const WRITE_CHUNK_BYTES: usize = 1 << 20;

/// The operations the writer needs from a segment file.
pub(super) trait SegmentFile: Send {
    /// Writes all of `bytes` at the current position.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// `fdatasync`: the written bytes and the file length are on disk when this returns `Ok`.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes and moves the position there.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

/// How the writer gets segment files and syncs the directory.
pub(super) trait SegmentIo: Send {
    /// A segment file positioned at `position`, from a file opened for writing.
    fn wrap(&self, file: File, position: u64) -> io::Result<Box<dyn SegmentFile>>;
    /// `fsync` on the directory, so a created or deleted file name is on disk.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
}

/// Plain files.
pub(super) struct StdSegmentIo;

impl SegmentIo for StdSegmentIo {
    fn wrap(&self, mut file: File, position: u64) -> io::Result<Box<dyn SegmentFile>> {
        file.seek(SeekFrom::Start(position))?;
        Ok(Box::new(file))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        sync_dir(dir)
    }
}

impl SegmentFile for File {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        Write::write_all(self, bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)?;
        self.seek(SeekFrom::Start(len)).map(drop)
    }
}

/// `fsync` on a directory.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The segment records are appended to.
struct ActiveSegment {
    id: SegmentId,
    path: PathBuf,
    file: Box<dyn SegmentFile>,
    /// End of the last synced record; everything before it is durable.
    durable_len: u64,
    /// A failed write left bytes after `durable_len` that could not be cut off yet.
    needs_repair: bool,
}

pub(super) struct Writer<T> {
    dir: PathBuf,
    io: Box<dyn SegmentIo>,
    applier: Box<dyn Applier<T>>,
    shared: Arc<Shared<T>>,
    active: ActiveSegment,
    /// Reused between groups to gather small records into one write.
    buf: Vec<u8>,
    /// Groups failed since the last one that succeeded, to log a failure streak once.
    failing_groups: u64,
}

impl<T: Send + 'static> Writer<T> {
    /// A writer that goes on after the records of an existing segment.
    pub(super) fn continue_segment(
        dir: PathBuf,
        io: Box<dyn SegmentIo>,
        applier: Box<dyn Applier<T>>,
        shared: Arc<Shared<T>>,
        segment: ReusableSegment,
    ) -> Result<Self, WalError> {
        let file = io
            .wrap(segment.file, segment.len)
            .map_err(|e| WalError::io("open", &segment.path, e))?;
        let active = ActiveSegment {
            id: segment.id,
            path: segment.path,
            file,
            durable_len: segment.len,
            needs_repair: false,
        };
        Ok(Self::with_active(dir, io, applier, shared, active))
    }

    /// A writer that starts segment `id`.
    pub(super) fn new_segment(
        dir: PathBuf,
        io: Box<dyn SegmentIo>,
        applier: Box<dyn Applier<T>>,
        shared: Arc<Shared<T>>,
        id: SegmentId,
    ) -> Result<Self, WalError> {
        let active = create_segment(&dir, &*io, &shared, id)?;
        Ok(Self::with_active(dir, io, applier, shared, active))
    }

    fn with_active(
        dir: PathBuf,
        io: Box<dyn SegmentIo>,
        applier: Box<dyn Applier<T>>,
        shared: Arc<Shared<T>>,
        active: ActiveSegment,
    ) -> Self {
        Self { dir, io, applier, shared, active, buf: Vec::new(), failing_groups: 0 }
    }

    pub(super) fn active_segment(&self) -> SegmentId {
        self.active.id
    }

    /// Serves requests until the WAL is closed and the queue is empty. However it ends, even by
    /// a panic in the applier, requests still queued are refused and `stopped` is set.
    pub(super) fn run(mut self, stopped: watch::Sender<bool>) {
        let _exit = ExitGuard { shared: Arc::clone(&self.shared), stopped };
        let mut batch = Vec::new();
        while self.shared.wait_for_requests(&mut batch) {
            let mut group = Vec::new();
            for request in batch.drain(..) {
                match request {
                    Request::Append(append) => group.push(append),
                    Request::Rotate(done) => {
                        self.commit(mem::take(&mut group));
                        let _ = done.send(self.rotate());
                    }
                }
            }
            self.commit(group);
        }
        if self.active.needs_repair {
            // Last try, so replay does not find a record whose append failed.
            self.active.needs_repair = self.active.file.truncate(self.active.durable_len).is_err();
        }
    }

    /// Writes and syncs a group, applies it, and answers its appenders.
    fn commit(&mut self, group: Vec<Append<T>>) {
        if group.is_empty() {
            return;
        }
        let records = group.len();
        let record_bytes: usize = group.iter().map(|append| append.record.len()).sum();
        let segment = self.active.id;
        let start = self.active.durable_len;
        match self.write_group(&group) {
            Ok(()) => {
                let counters = &self.shared.counters;
                counters.records.fetch_add(records as u64, Ordering::Relaxed);
                counters.bytes.fetch_add(self.active.durable_len - start, Ordering::Relaxed);
                counters.groups.fetch_add(1, Ordering::Relaxed);
                if self.failing_groups > 0 {
                    tracing::warn!(
                        failed_groups = self.failing_groups,
                        segment = segment.0,
                        "wal writes succeed again"
                    );
                    self.failing_groups = 0;
                }
                let mut payloads = Vec::with_capacity(records);
                let mut answers = Vec::with_capacity(records);
                let mut offset = start;
                for append in group {
                    answers.push((append.done, RecordLocation { segment, offset }));
                    offset += (RECORD_HEADER_LEN + append.record.len()) as u64;
                    payloads.push(append.payload);
                }
                self.applier.apply(segment, payloads);
                // Released first, so an appender that was answered can append again at once.
                self.shared.release(records, record_bytes);
                for (done, location) in answers {
                    let _ = done.send(Ok(location));
                }
            }
            Err((action, error)) => {
                self.shared.counters.failed_groups.fetch_add(1, Ordering::Relaxed);
                let error = WalError::io(action, &self.active.path, error);
                if self.failing_groups == 0 {
                    tracing::warn!(
                        %error,
                        segment = segment.0,
                        needs_repair = self.active.needs_repair,
                        "wal writes fail; appends get errors until a write succeeds"
                    );
                }
                self.failing_groups += 1;
                self.shared.release(records, record_bytes);
                for append in group {
                    let _ = append.done.send(Err(error.clone()));
                }
            }
        }
    }

    /// Writes the group after the durable end of the active segment and syncs it. On failure
    /// the segment is cut back to its durable end, or marked for that when cutting fails too.
    /// The error comes with what failed, for the message.
    fn write_group(&mut self, group: &[Append<T>]) -> Result<(), (&'static str, io::Error)> {
        let active = &mut self.active;
        if active.needs_repair {
            active.file.truncate(active.durable_len).map_err(|e| ("cut back", e))?;
            active.needs_repair = false;
        }
        let written = write_records(&mut *active.file, &mut self.buf, group)
            .map_err(|e| ("write", e))
            .and_then(|len| {
                self.shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
                active.file.sync_data().map(|()| len).map_err(|e| ("sync", e))
            });
        match written {
            Ok(len) => {
                active.durable_len += len;
                Ok(())
            }
            Err(error) => {
                active.needs_repair = active.file.truncate(active.durable_len).is_err();
                Err(error)
            }
        }
    }

    /// Opens the next segment, then tells the applier the current one is closed.
    fn rotate(&mut self) -> Result<Rotation, WalError> {
        let opened = self.active.id.next();
        let next = create_segment(&self.dir, &*self.io, &self.shared, opened)?;
        let mut closed = mem::replace(&mut self.active, next);
        if closed.needs_repair {
            // Best effort: replay skips a damaged tail of an older segment anyway.
            let _ = closed.file.truncate(closed.durable_len);
        }
        self.shared.active.store(opened.0, Ordering::Relaxed);
        self.applier.segment_closed(closed.id, opened);
        Ok(Rotation { closed: closed.id, opened })
    }
}

/// Writes each record's header and data with as few `write` calls as the chunk size allows.
/// Returns the bytes written.
fn write_records<T>(
    file: &mut dyn SegmentFile,
    buf: &mut Vec<u8>,
    group: &[Append<T>],
) -> io::Result<u64> {
    buf.clear();
    let mut written = 0;
    for append in group {
        let record = &append.record;
        buf.extend_from_slice(&format::record_header(record));
        if record.len() >= WRITE_CHUNK_BYTES {
            file.write_all(buf)?;
            buf.clear();
            file.write_all(record)?;
        } else {
            buf.extend_from_slice(record);
            if buf.len() >= WRITE_CHUNK_BYTES {
                file.write_all(buf)?;
                buf.clear();
            }
        }
        written += (RECORD_HEADER_LEN + record.len()) as u64;
    }
    if !buf.is_empty() {
        file.write_all(buf)?;
        buf.clear();
    }
    Ok(written)
}

/// Creates segment `id` with its header, synced, and syncs the directory. A file left by an
/// earlier failed attempt at the same number is overwritten: it never held a record.
fn create_segment<T>(
    dir: &Path,
    io: &dyn SegmentIo,
    shared: &Shared<T>,
    id: SegmentId,
) -> Result<ActiveSegment, WalError> {
    let path = dir.join(format::segment_file_name(id));
    let created = (|| {
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(&path)?;
        let mut file = io.wrap(file, 0)?;
        file.write_all(&format::segment_header())?;
        shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
        file.sync_data()?;
        shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
        io.sync_dir(dir)?;
        Ok(file)
    })();
    match created {
        Ok(file) => {
            shared.counters.segments_created.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(segment = id.0, path = %path.display(), "created wal segment");
            Ok(ActiveSegment {
                id,
                path,
                file,
                durable_len: SEGMENT_HEADER_LEN,
                needs_repair: false,
            })
        }
        Err(error) => {
            let _ = std::fs::remove_file(&path);
            Err(WalError::io("create", &path, error))
        }
    }
}

/// Runs when the writer thread ends, by return or by panic.
struct ExitGuard<T> {
    shared: Arc<Shared<T>>,
    stopped: watch::Sender<bool>,
}

impl<T> Drop for ExitGuard<T> {
    fn drop(&mut self) {
        self.shared.close_and_refuse_pending();
        self.stopped.send_replace(true);
    }
}
