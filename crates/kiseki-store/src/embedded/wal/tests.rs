//! Tests that need the writer's disk faked: failed writes, syncs and truncations, and a sync held
//! back so that concurrent appends are sure to queue behind it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use proptest::prelude::*;
use tokio::task::JoinHandle;

use super::writer::{SegmentFile, SegmentIo, StdSegmentIo};
use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir()
            .join(format!("kiseki-wal-unit-{name}-{}-{unique}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Faults the next calls of each kind suffer, set by the test while the WAL runs.
#[derive(Default)]
struct Faults {
    /// The next this-many writes write half their bytes, then fail as on a full disk.
    writes: AtomicU32,
    /// The next this-many syncs fail as on a full disk.
    syncs: AtomicU32,
    /// The next this-many truncations fail with an I/O error.
    truncates: AtomicU32,
    /// Truncations that did fail so far.
    truncates_failed: AtomicU32,
    /// While true, syncs wait.
    hold_syncs: Mutex<bool>,
    released: Condvar,
}

impl Faults {
    fn take(counter: &AtomicU32) -> bool {
        counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }

    fn hold_syncs(&self, hold: bool) {
        *self.hold_syncs.lock().unwrap() = hold;
        self.released.notify_all();
    }
}

fn disk_full() -> io::Error {
    io::Error::from(io::ErrorKind::StorageFull)
}

struct FaultyIo(Arc<Faults>);

impl SegmentIo for FaultyIo {
    fn wrap(&self, file: File, position: u64) -> io::Result<Box<dyn SegmentFile>> {
        let file = StdSegmentIo.wrap(file, position)?;
        Ok(Box::new(FaultyFile { file, faults: Arc::clone(&self.0) }))
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        StdSegmentIo.sync_dir(dir)
    }
}

struct FaultyFile {
    file: Box<dyn SegmentFile>,
    faults: Arc<Faults>,
}

impl SegmentFile for FaultyFile {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        if Faults::take(&self.faults.writes) {
            self.file.write_all(&bytes[..bytes.len() / 2])?;
            return Err(disk_full());
        }
        self.file.write_all(bytes)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut held = self.faults.hold_syncs.lock().unwrap();
        while *held {
            held = self.faults.released.wait(held).unwrap();
        }
        drop(held);
        if Faults::take(&self.faults.syncs) {
            return Err(disk_full());
        }
        self.file.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        if Faults::take(&self.faults.truncates) {
            self.faults.truncates_failed.fetch_add(1, Ordering::SeqCst);
            return Err(io::Error::other("injected truncate failure"));
        }
        self.file.truncate(len)
    }
}

type Replayed = Vec<(RecordLocation, Vec<u8>)>;

fn open_faulty(config: WalConfig, faults: &Arc<Faults>) -> Result<Wal<u32>, WalError> {
    let applier = Box::new(|_: SegmentId, _: Vec<u32>| {});
    let io = Box::new(FaultyIo(Arc::clone(faults)));
    Wal::open_with(config, applier, |_, _| {}, io).map(|(wal, _)| wal)
}

fn replay(dir: &Path) -> (ReplayReport, Replayed) {
    let mut replayed = Vec::new();
    let (_, report) = Wal::<u32>::open(
        WalConfig::new(dir),
        |_: SegmentId, _: Vec<u32>| {},
        |location, record: &[u8]| replayed.push((location, record.to_vec())),
    )
    .unwrap();
    (report, replayed)
}

/// Waits (without a deadline) until `pending_records` appends are queued or being written,
/// failing when one of the `appends`, all held back by a held sync, ended instead.
async fn until_pending<R>(wal: &Wal<u32>, pending_records: u64, appends: &[JoinHandle<R>]) {
    while wal.stats().pending_records < pending_records {
        assert!(!appends.iter().any(JoinHandle::is_finished), "an append ended early");
        tokio::task::yield_now().await;
        std::thread::yield_now();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_a_sync() {
    const APPENDERS: u32 = 32;
    let dir = TempDir::new("group");
    let faults = Arc::new(Faults::default());
    let wal = Arc::new(open_faulty(WalConfig::new(dir.path()), &faults).unwrap());
    let before = wal.stats();
    // The first group's sync waits until every append is queued, so at most two groups form.
    faults.hold_syncs(true);
    let appends: Vec<_> = (0..APPENDERS)
        .map(|i| {
            let wal = Arc::clone(&wal);
            tokio::spawn(async move { wal.append(i.to_le_bytes().to_vec(), i).await })
        })
        .collect();
    until_pending(&wal, u64::from(APPENDERS), &appends).await;
    faults.hold_syncs(false);
    for append in appends {
        append.await.unwrap().unwrap();
    }
    let after = wal.stats();
    assert_eq!(after.records - before.records, u64::from(APPENDERS));
    assert!(after.groups - before.groups <= 2, "{after:?}");
    assert!(after.syncs - before.syncs <= 2, "{after:?}");
    assert_eq!((after.pending_records, after.pending_bytes), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_appends_at_once() {
    let dir = TempDir::new("overload");
    let faults = Arc::new(Faults::default());
    let config =
        WalConfig { max_pending_records: 4, max_pending_bytes: 1000, ..WalConfig::new(dir.path()) };
    let wal = Arc::new(open_faulty(config, &faults).unwrap());
    faults.hold_syncs(true);
    let spawn_append = |len: usize| {
        let wal = Arc::clone(&wal);
        tokio::spawn(async move { wal.append(vec![7; len], 0).await })
    };
    // Alone in the queue, a record over the byte bound still goes through.
    let alone = spawn_append(1500);
    until_pending(&wal, 1, std::slice::from_ref(&alone)).await;
    assert!(matches!(wal.append(vec![1], 0).await, Err(WalError::Overloaded)));
    faults.hold_syncs(false);
    alone.await.unwrap().unwrap();

    faults.hold_syncs(true);
    let queued: Vec<_> = (0..4).map(|_| spawn_append(10)).collect();
    until_pending(&wal, 4, &queued).await;
    assert!(matches!(wal.append(vec![1], 0).await, Err(WalError::Overloaded)));
    assert_eq!(wal.stats().overloaded, 2);
    faults.hold_syncs(false);
    for append in queued {
        append.await.unwrap().unwrap();
    }
    wal.append(vec![1], 0).await.unwrap();
}

/// Appends `first`, then `failing` with the faults set by `arm`, then `last`; checks the failing
/// append got a disk-full error whose message starts with `expected`, and replay holds exactly
/// `first` and `last`.
async fn failure_is_contained(name: &str, arm: impl FnOnce(&Faults), expected: &str) {
    let dir = TempDir::new(name);
    let faults = Arc::new(Faults::default());
    let wal = open_faulty(WalConfig::new(dir.path()), &faults).unwrap();
    let first = wal.append(vec![1; 3000], 1).await.unwrap();
    arm(&faults);
    let error = wal.append(vec![2; 3000], 2).await.unwrap_err();
    assert!(matches!(error, WalError::DiskFull { .. }), "{error:?}");
    assert!(error.to_string().starts_with(expected), "{error}");
    // Later appends go where the failed one would have gone, once the disk allows.
    let last = loop {
        match wal.append(vec![3; 3000], 3).await {
            Ok(location) => break location,
            Err(WalError::Io { .. }) => continue,
            Err(error) => panic!("{error:?}"),
        }
    };
    assert_eq!(last.offset, first.offset + 8 + 3000);
    assert!(wal.stats().failed_groups >= 1);
    drop(wal);
    let (report, replayed) = replay(dir.path());
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(replayed, [(first, vec![1; 3000]), (last, vec![3; 3000])]);
}

#[tokio::test]
async fn a_full_disk_on_write_fails_that_group_only() {
    failure_is_contained(
        "write",
        |f| f.writes.store(1, Ordering::SeqCst),
        "no space left to write",
    )
    .await;
}

#[tokio::test]
async fn a_full_disk_on_sync_fails_that_group_only() {
    failure_is_contained("sync", |f| f.syncs.store(1, Ordering::SeqCst), "no space left to sync")
        .await;
}

#[tokio::test]
async fn a_failed_cut_back_is_retried_before_the_next_write() {
    let arm = |f: &Faults| {
        f.writes.store(1, Ordering::SeqCst);
        f.truncates.store(3, Ordering::SeqCst);
    };
    failure_is_contained("truncate", arm, "no space left to write").await;
}

#[tokio::test]
async fn a_failed_rotation_keeps_the_active_segment() {
    let dir = TempDir::new("rotate-fails");
    let faults = Arc::new(Faults::default());
    let wal = open_faulty(WalConfig::new(dir.path()), &faults).unwrap();
    wal.append(vec![1; 10], 1).await.unwrap();
    faults.writes.store(1, Ordering::SeqCst);
    assert!(matches!(wal.rotate().await, Err(WalError::DiskFull { .. })));
    assert!(!dir.path().join(format::segment_file_name(SegmentId(2))).exists());
    let kept = wal.append(vec![2; 10], 2).await.unwrap();
    assert_eq!(kept.segment, SegmentId(1));
    assert_eq!(
        wal.rotate().await.unwrap(),
        Rotation { closed: SegmentId(1), opened: SegmentId(2) }
    );
    drop(wal);
    let (report, replayed) = replay(dir.path());
    assert!(report.is_clean());
    assert_eq!(replayed.len(), 2);
}

#[tokio::test]
async fn a_full_disk_at_the_first_open_is_an_error_and_leaves_nothing() {
    let dir = TempDir::new("open-full");
    let faults = Arc::new(Faults { writes: AtomicU32::new(1), ..Faults::default() });
    let error = open_faulty(WalConfig::new(dir.path()), &faults).err().unwrap();
    assert!(matches!(error, WalError::DiskFull { .. }), "{error:?}");
    assert!(list_segments_in(dir.path()).is_empty());
    open_faulty(WalConfig::new(dir.path()), &faults).unwrap();
}

fn list_segments_in(dir: &Path) -> Vec<SegmentId> {
    replay::list_segments(dir).unwrap()
}

#[tokio::test]
async fn a_panicking_applier_leaves_no_append_hanging() {
    let dir = TempDir::new("panic");
    let applier = |_: SegmentId, payloads: Vec<u32>| assert!(!payloads.contains(&13), "unlucky");
    let (wal, _) = Wal::open(WalConfig::new(dir.path()), applier, |_, _| {}).unwrap();
    wal.append(vec![1], 1).await.unwrap();
    assert!(matches!(wal.append(vec![13], 13).await, Err(WalError::Closed)));
    assert!(matches!(wal.append(vec![2], 2).await, Err(WalError::Closed)));
    wal.close().await;
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Rotate,
    FailWrite,
    FailSync,
    FailTruncate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0usize..5000).prop_map(Op::Append),
        1 => Just(Op::Rotate),
        2 => Just(Op::FailWrite),
        2 => Just(Op::FailSync),
        1 => Just(Op::FailTruncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever writes, syncs and truncations fail, every acknowledged record is replayed where
    /// it was acknowledged, in order. A record whose append failed may be replayed too, when the
    /// bytes reached the file and cutting them off failed: like any log, a failed append may
    /// still have been logged, never the other way around.
    #[test]
    fn failures_never_lose_acknowledged_records(ops in prop::collection::vec(op(), 1..50)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let dir = TempDir::new("prop-faults");
        let faults = Arc::new(Faults::default());
        let wal = open_faulty(WalConfig::new(dir.path()), &faults).unwrap();
        let mut acked = Vec::new();
        let mut failed = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Append(len) => {
                    // The index first makes every record distinct.
                    let mut data = (i as u32).to_le_bytes().to_vec();
                    data.extend((0..len).map(|j| (i + j) as u8));
                    match runtime.block_on(wal.append(data.clone(), 0)) {
                        Ok(location) => acked.push((location, data)),
                        Err(WalError::DiskFull { .. } | WalError::Io { .. }) => failed.push(data),
                        Err(error) => prop_assert!(false, "{error:?}"),
                    }
                }
                Op::Rotate => match runtime.block_on(wal.rotate()) {
                    Ok(_) | Err(WalError::DiskFull { .. } | WalError::Io { .. }) => {}
                    Err(error) => prop_assert!(false, "{error:?}"),
                },
                Op::FailWrite => faults.writes.store(1, Ordering::SeqCst),
                Op::FailSync => faults.syncs.store(1, Ordering::SeqCst),
                Op::FailTruncate => faults.truncates.store(1, Ordering::SeqCst),
            }
        }
        // Any failed truncation may leave a failed record behind, not only the last one armed.
        let truncates_failed = faults.truncates_failed.load(Ordering::SeqCst) > 0;
        drop(wal);
        let (_, replayed) = replay(dir.path());
        let (kept, extra): (Vec<_>, Vec<_>) =
            replayed.into_iter().partition(|(_, data)| !failed.contains(data));
        prop_assert_eq!(kept, acked);
        prop_assert!(extra.is_empty() || truncates_failed, "{extra:?}");
    }
}
