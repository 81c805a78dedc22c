//! The WAL through its public API on real files: round trips, replay of every kind of damage,
//! ordering of the applier calls, and removal of old segments.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kiseki_store::embedded::wal::{
    Applier, Damage, FORMAT_VERSION, RecordLocation, ReplayReport, SegmentEnd, SegmentId, Wal,
    WalConfig, WalError,
};
use proptest::prelude::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("kiseki-wal-{name}-{}-{unique}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("temp dir");
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

type Replayed = Vec<(RecordLocation, Vec<u8>)>;

fn open(dir: &Path) -> (Wal<()>, ReplayReport, Replayed) {
    open_with(dir, |_: SegmentId, _: Vec<()>| {}).expect("open wal")
}

fn open_with(
    dir: &Path,
    applier: impl Applier<()>,
) -> Result<(Wal<()>, ReplayReport, Replayed), WalError> {
    let mut replayed = Vec::new();
    let (wal, report) = Wal::open(WalConfig::new(dir), applier, |location, record: &[u8]| {
        replayed.push((location, record.to_vec()))
    })?;
    Ok((wal, report, replayed))
}

fn segment_path(dir: &Path, segment: u64) -> PathBuf {
    dir.join(format!("{segment:020}.wal"))
}

fn record(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j) as u8).collect()
}

/// A segment file with one header and `records`, as this build writes it, made through the WAL.
async fn write_segment(dir: &Path, records: &[Vec<u8>]) -> Vec<RecordLocation> {
    let (wal, _, _) = open(dir);
    let mut locations = Vec::new();
    for record in records {
        locations.push(wal.append(record.clone(), ()).await.expect("append"));
    }
    wal.close().await;
    locations
}

#[tokio::test]
async fn records_round_trip_across_rotations_and_reopens() {
    let dir = TempDir::new("round-trip");
    let mut acked = Vec::new();
    {
        let (wal, report, replayed) = open(dir.path());
        assert!(replayed.is_empty());
        assert_eq!(report.active, SegmentId(1));
        for i in 0..10 {
            let data = record(i, i * 100);
            acked.push((wal.append(data.clone(), ()).await.unwrap(), data));
            if i % 4 == 3 {
                let rotation = wal.rotate().await.unwrap();
                assert_eq!(rotation.opened, rotation.closed.next());
            }
        }
        assert_eq!(wal.stats().active_segment, SegmentId(3));
    }
    let (wal, report, replayed) = open(dir.path());
    assert_eq!(replayed, acked);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.records(), 10);
    assert_eq!(report.segments.len(), 3);
    // New records go on after the last segment's.
    assert_eq!(report.active, SegmentId(3));
    let data = record(99, 5);
    acked.push((wal.append(data.clone(), ()).await.unwrap(), data));
    drop(wal);
    assert_eq!(open(dir.path()).2, acked);
}

#[tokio::test]
async fn the_applier_sees_groups_in_log_order_and_each_closed_segment_after_its_records() {
    #[derive(Debug, PartialEq)]
    enum Event {
        Applied(SegmentId, u64),
        Closed(SegmentId, SegmentId),
    }
    struct Recorder(Arc<Mutex<Vec<Event>>>);
    impl Applier<u64> for Recorder {
        fn apply(&mut self, segment: SegmentId, payloads: Vec<u64>) {
            let mut events = self.0.lock().unwrap();
            events.extend(payloads.into_iter().map(|p| Event::Applied(segment, p)));
        }
        fn segment_closed(&mut self, closed: SegmentId, opened: SegmentId) {
            self.0.lock().unwrap().push(Event::Closed(closed, opened));
        }
    }

    let dir = TempDir::new("apply-order");
    let events = Arc::new(Mutex::new(Vec::new()));
    let (wal, _) =
        Wal::open(WalConfig::new(dir.path()), Recorder(Arc::clone(&events)), |_, _| {}).unwrap();
    let wal = Arc::new(wal);
    let mut tasks = Vec::new();
    for task in 0..8u64 {
        let wal = Arc::clone(&wal);
        let events = Arc::clone(&events);
        tasks.push(tokio::spawn(async move {
            let mut locations = Vec::new();
            for i in 0..20 {
                let payload = task * 1000 + i;
                let location = wal.append(payload.to_le_bytes().to_vec(), payload).await.unwrap();
                // Applied before the append returned.
                let seen =
                    events.lock().unwrap().contains(&Event::Applied(location.segment, payload));
                assert!(seen, "payload {payload} not applied when its append returned");
                locations.push((location, payload));
                if i % 7 == 0 {
                    wal.rotate().await.unwrap();
                }
            }
            locations
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.unwrap());
    }
    acked.sort();
    let events = std::mem::take(&mut *events.lock().unwrap());
    let applied: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            Event::Applied(_, payload) => Some(*payload),
            Event::Closed(..) => None,
        })
        .collect();
    let in_log_order: Vec<_> = acked.iter().map(|(_, payload)| *payload).collect();
    assert_eq!(applied, in_log_order);
    // Every record applied before its segment's close and after the previous one's.
    let mut current = SegmentId(1);
    for event in &events {
        match event {
            Event::Applied(segment, _) => assert_eq!(*segment, current),
            Event::Closed(closed, opened) => {
                assert_eq!((*closed, *opened), (current, current.next()));
                current = *opened;
            }
        }
    }
    assert_eq!(current, wal.stats().active_segment);
}

/// Cuts the last record of a three-record segment at every byte and checks replay keeps exactly
/// the first two, cuts the file back to them, and takes new records after them.
#[tokio::test]
async fn a_torn_tail_is_cut_at_every_byte_of_the_last_record() {
    let source = TempDir::new("torn-source");
    let records = [record(1, 20), record(2, 0), record(3, 37)];
    let locations = write_segment(source.path(), &records).await;
    let whole = fs::read(segment_path(source.path(), 1)).unwrap();
    let last_start = locations[2].offset;
    for cut in last_start..whole.len() as u64 {
        let dir = TempDir::new("torn");
        let path = segment_path(dir.path(), 1);
        fs::write(&path, &whole[..cut as usize]).unwrap();
        let (wal, report, replayed) = open(dir.path());
        let kept: Vec<_> = replayed.iter().map(|(_, data)| data.clone()).collect();
        assert_eq!(kept, &records[..2], "cut at {cut}");
        let expected_end = if cut == last_start {
            SegmentEnd::Clean
        } else {
            let damage = if cut - last_start < 8 {
                Damage::TruncatedHeader
            } else {
                Damage::TruncatedRecord
            };
            SegmentEnd::TruncatedTail { at: last_start, removed_bytes: cut - last_start, damage }
        };
        assert_eq!(report.segments[0].end, expected_end, "cut at {cut}");
        assert_eq!(fs::metadata(&path).unwrap().len(), last_start, "cut at {cut}");
        let again = wal.append(b"after".to_vec(), ()).await.unwrap();
        assert_eq!(again.offset, last_start);
        drop(wal);
        let (_, report, replayed) = open(dir.path());
        assert!(report.is_clean());
        assert_eq!(replayed.len(), 3);
        assert_eq!(replayed[2].1, b"after");
    }
}

#[tokio::test]
async fn a_zero_filled_tail_is_cut() {
    let dir = TempDir::new("zeros");
    let records = [record(1, 100), record(2, 300)];
    let locations = write_segment(dir.path(), &records).await;
    let path = segment_path(dir.path(), 1);
    let mut bytes = fs::read(&path).unwrap();
    let len = bytes.len() as u64;
    // Zeros after the records, as a crash on some filesystems leaves them.
    bytes.extend_from_slice(&[0; 8192]);
    fs::write(&path, &bytes).unwrap();
    let (wal, report, replayed) = open(dir.path());
    assert_eq!(replayed.len(), 2);
    let zeros =
        SegmentEnd::TruncatedTail { at: len, removed_bytes: 8192, damage: Damage::ZeroFilled };
    assert_eq!(report.segments[0].end, zeros);
    drop(wal);
    // And zeros instead of the last record.
    let mut bytes = fs::read(&path).unwrap();
    bytes.truncate(locations[1].offset as usize);
    bytes.resize(len as usize, 0);
    fs::write(&path, &bytes).unwrap();
    let (_, report, replayed) = open(dir.path());
    assert_eq!(replayed.len(), 1);
    assert!(matches!(
        report.segments[0].end,
        SegmentEnd::TruncatedTail { damage: Damage::ZeroFilled, .. }
    ));
    assert_eq!(fs::metadata(&path).unwrap().len(), locations[1].offset);
}

#[tokio::test]
async fn a_flipped_bit_anywhere_in_the_last_record_cuts_only_that_record() {
    let source = TempDir::new("flip-source");
    let records = [record(1, 10), record(2, 25)];
    let locations = write_segment(source.path(), &records).await;
    let whole = fs::read(segment_path(source.path(), 1)).unwrap();
    let last_start = locations[1].offset as usize;
    for byte in last_start..whole.len() {
        for bit in [0, 3, 7] {
            let dir = TempDir::new("flip");
            let path = segment_path(dir.path(), 1);
            let mut bytes = whole.clone();
            bytes[byte] ^= 1 << bit;
            fs::write(&path, &bytes).unwrap();
            let (_, report, replayed) = open(dir.path());
            assert_eq!(replayed.len(), 1, "byte {byte} bit {bit}");
            assert!(
                matches!(report.segments[0].end, SegmentEnd::TruncatedTail { at, .. } if at == last_start as u64),
                "byte {byte} bit {bit}: {report:?}"
            );
            assert_eq!(fs::metadata(&path).unwrap().len(), last_start as u64);
        }
    }
}

#[tokio::test]
async fn a_damaged_record_between_intact_ones_is_skipped_alone() {
    let dir = TempDir::new("middle");
    let records = [record(1, 50), record(2, 50), record(3, 50)];
    let locations = write_segment(dir.path(), &records).await;
    let path = segment_path(dir.path(), 1);
    let mut bytes = fs::read(&path).unwrap();
    bytes[locations[1].offset as usize + 8 + 20] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let (_, report, replayed) = open(dir.path());
    let kept: Vec<_> = replayed.into_iter().map(|(_, data)| data).collect();
    assert_eq!(kept, [records[0].clone(), records[2].clone()]);
    assert_eq!(report.segments[0].skipped_records, 1);
    assert_eq!(report.segments[0].end, SegmentEnd::Clean);
    assert!(!report.is_clean());
    // Nothing was cut: the skipped record stays on disk for a look.
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[tokio::test]
async fn damage_in_an_older_segment_skips_its_rest_and_keeps_the_file() {
    let dir = TempDir::new("older");
    let (wal, _, _) = open(dir.path());
    let mut first = Vec::new();
    for i in 0..3 {
        first.push(wal.append(record(i, 40), ()).await.unwrap());
    }
    wal.rotate().await.unwrap();
    wal.append(record(10, 40), ()).await.unwrap();
    drop(wal);
    let path = segment_path(dir.path(), 1);
    let mut bytes = fs::read(&path).unwrap();
    // A length pointing past the end of the file.
    bytes[first[1].offset as usize + 3] = 0x7f;
    fs::write(&path, &bytes).unwrap();

    let (_, report, replayed) = open(dir.path());
    let kept: Vec<_> =
        replayed.into_iter().map(|(location, data)| (location.segment.0, data)).collect();
    assert_eq!(kept, [(1, record(0, 40)), (2, record(10, 40))]);
    let skipped_bytes = bytes.len() as u64 - first[1].offset;
    let end = SegmentEnd::SkippedTail {
        at: first[1].offset,
        skipped_bytes,
        damage: Damage::LengthOverLimit,
    };
    assert_eq!(report.segments[0].end, end);
    assert_eq!(report.segments[1].end, SegmentEnd::Clean);
    assert_eq!(fs::read(&path).unwrap(), bytes);
}

#[tokio::test]
async fn a_segment_without_its_header_is_tolerated() {
    let header = {
        let dir = TempDir::new("header-source");
        write_segment(dir.path(), &[]).await;
        fs::read(segment_path(dir.path(), 1)).unwrap()
    };
    assert_eq!(header.len(), 12);
    assert_eq!(&header[..8], b"KISEKIWL");
    assert_eq!(header[8..], FORMAT_VERSION.to_le_bytes());

    // Empty, part of a header, or zeros: created just before a crash.
    for last in [Vec::new(), header[..5].to_vec(), vec![0; 12], vec![0; 4096]] {
        let dir = TempDir::new("headerless");
        fs::write(segment_path(dir.path(), 7), &last).unwrap();
        let (wal, report, replayed) = open(dir.path());
        assert!(replayed.is_empty());
        let file_len = last.len() as u64;
        assert_eq!(report.segments[0].end, SegmentEnd::MissingHeader { file_len });
        assert_eq!(report.active, SegmentId(7), "the segment is reused");
        wal.append(b"x".to_vec(), ()).await.unwrap();
        drop(wal);
        let (_, report, replayed) = open(dir.path());
        assert!(report.is_clean(), "{report:?}");
        assert_eq!(replayed.len(), 1);
    }

    // A header and nothing else.
    let dir = TempDir::new("header-only");
    fs::write(segment_path(dir.path(), 3), &header).unwrap();
    let (_, report, replayed) = open(dir.path());
    assert!(replayed.is_empty() && report.is_clean());
    assert_eq!(report.active, SegmentId(3));

    // An empty older segment is left alone.
    let dir = TempDir::new("headerless-older");
    fs::write(segment_path(dir.path(), 1), b"").unwrap();
    fs::write(segment_path(dir.path(), 2), &header).unwrap();
    let (_, report, _) = open(dir.path());
    assert_eq!(report.segments[0].end, SegmentEnd::MissingHeader { file_len: 0 });
    assert_eq!(report.active, SegmentId(2));
}

#[tokio::test]
async fn a_file_that_is_not_a_segment_is_skipped_and_kept() {
    let dir = TempDir::new("not-wal");
    let path = segment_path(dir.path(), 4);
    fs::write(&path, b"this is not a wal segment at all").unwrap();
    fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
    let (wal, report, replayed) = open(dir.path());
    assert!(replayed.is_empty());
    assert_eq!(report.segments[0].end, SegmentEnd::NotWal);
    assert_eq!(report.active, SegmentId(5));
    wal.append(b"x".to_vec(), ()).await.unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"this is not a wal segment at all");
}

#[tokio::test]
async fn a_segment_of_a_newer_format_version_stops_the_open() {
    let dir = TempDir::new("newer");
    let mut header = b"KISEKIWL".to_vec();
    header.extend_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    fs::write(segment_path(dir.path(), 1), &header).unwrap();
    let error = open_with(dir.path(), |_: SegmentId, _: Vec<()>| {}).err().unwrap();
    assert!(
        matches!(error, WalError::UnsupportedVersion { version, supported, .. }
            if version == FORMAT_VERSION + 1 && supported == FORMAT_VERSION),
        "{error:?}"
    );
    assert!(error.to_string().contains("format version 2"), "{error}");
}

#[tokio::test]
async fn one_directory_is_opened_by_one_wal_at_a_time() {
    let dir = TempDir::new("lock");
    let (wal, _, _) = open(dir.path());
    let error = open_with(dir.path(), |_: SegmentId, _: Vec<()>| {}).err().unwrap();
    assert!(matches!(error, WalError::Locked { .. }), "{error:?}");
    drop(wal);
    open(dir.path());
}

#[tokio::test]
async fn old_segments_are_removed_but_never_the_active_one() {
    let dir = TempDir::new("remove");
    let (wal, _, _) = open(dir.path());
    for i in 0..4 {
        wal.append(record(i, 10), ()).await.unwrap();
        wal.rotate().await.unwrap();
    }
    let kept = wal.append(record(9, 10), ()).await.unwrap();
    assert_eq!(kept.segment, SegmentId(5));
    assert!(matches!(wal.remove_segments_up_to(SegmentId(5)), Err(WalError::SegmentActive { .. })));
    assert_eq!(
        wal.remove_segments_up_to(SegmentId(3)).unwrap(),
        [SegmentId(1), SegmentId(2), SegmentId(3)]
    );
    assert_eq!(wal.remove_segments_up_to(SegmentId(3)).unwrap(), []);
    drop(wal);
    let (_, report, replayed) = open(dir.path());
    let segments: Vec<_> = replayed.iter().map(|(location, _)| location.segment.0).collect();
    assert_eq!(segments, [4, 5]);
    assert_eq!(report.active, SegmentId(5));
}

#[tokio::test]
async fn records_over_the_limit_are_refused() {
    let dir = TempDir::new("too-large");
    let config = WalConfig { max_record_bytes: 1000, ..WalConfig::new(dir.path()) };
    let (wal, _) = Wal::open(config, |_: SegmentId, _: Vec<()>| {}, |_, _| {}).unwrap();
    let error = wal.append(vec![0; 1001], ()).await.unwrap_err();
    assert!(matches!(error, WalError::RecordTooLarge { len: 1001, max: 1000 }), "{error:?}");
    wal.append(vec![0; 1000], ()).await.unwrap();

    let config = WalConfig { max_record_bytes: usize::MAX, ..WalConfig::new(dir.path()) };
    drop(wal);
    let error = Wal::open(config, |_: SegmentId, _: Vec<()>| {}, |_, _| {}).err().unwrap();
    assert!(matches!(error, WalError::InvalidConfig(_)), "{error:?}");
}

#[tokio::test]
async fn close_writes_what_is_queued_and_refuses_the_rest() {
    let dir = TempDir::new("close");
    let (wal, _, _) = open(dir.path());
    let wal = Arc::new(wal);
    let appends: Vec<_> = (0..50)
        .map(|i| {
            let wal = Arc::clone(&wal);
            tokio::spawn(async move { wal.append(record(i, 1000), ()).await })
        })
        .collect();
    wal.close().await;
    let mut written = 0;
    for append in appends {
        match append.await.unwrap() {
            Ok(_) => written += 1,
            Err(error) => assert!(matches!(error, WalError::Closed), "{error:?}"),
        }
    }
    assert!(matches!(wal.append(vec![1], ()).await, Err(WalError::Closed)));
    assert!(matches!(wal.rotate().await, Err(WalError::Closed)));
    assert_eq!(wal.stats().records, written);
    drop(wal);
    assert_eq!(open(dir.path()).2.len() as u64, written);
}

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    Rotate,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0usize..3000).prop_map(Op::Append),
        1 => Just(Op::Rotate),
        1 => Just(Op::Reopen),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever mix of appends, rotations and restarts, replay gives back exactly what was
    /// acknowledged, where it was acknowledged.
    #[test]
    fn replay_returns_exactly_what_was_acknowledged(ops in prop::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let dir = TempDir::new("prop");
        let mut acked = Vec::new();
        let (mut wal, _, _) = open(dir.path());
        for (i, op) in ops.into_iter().enumerate() {
            match op {
                Op::Append(len) => {
                    let data = record(i, len);
                    let location = runtime.block_on(wal.append(data.clone(), ())).unwrap();
                    acked.push((location, data));
                }
                Op::Rotate => {
                    runtime.block_on(wal.rotate()).unwrap();
                }
                Op::Reopen => {
                    drop(wal);
                    let (reopened, report, replayed) = open(dir.path());
                    prop_assert!(report.is_clean());
                    prop_assert_eq!(&replayed, &acked);
                    wal = reopened;
                }
            }
        }
        drop(wal);
        let (_, report, replayed) = open(dir.path());
        prop_assert!(report.is_clean());
        prop_assert_eq!(replayed, acked);
    }
}

/// The directory the child of [`a_real_file_size_limit_fails_a_write_and_later_appends_succeed`]
/// writes to.
const FILE_SIZE_LIMIT_DIR: &str = "KISEKI_WAL_TEST_FILE_SIZE_LIMIT_DIR";

/// A real write failure from the kernel: the test binary runs itself under a shell's
/// `ulimit -f` (RLIMIT_FSIZE), with SIGXFSZ ignored so a write past the limit fails with EFBIG
/// instead of killing the process.
#[test]
fn a_real_file_size_limit_fails_a_write_and_later_appends_succeed() {
    let dir = TempDir::new("fsize");
    let exe = std::env::current_exe().unwrap();
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"trap "" XFSZ; ulimit -f 64 && exec "$0" "$@""#)
        .arg(exe)
        .args(["--exact", "file_size_limit_child", "--ignored", "--test-threads=1"])
        .env(FILE_SIZE_LIMIT_DIR, dir.path())
        .output()
        .unwrap();
    let output = String::from_utf8_lossy(&child.stdout);
    assert!(child.status.success(), "child failed: {}\n{output}", child.status);
    let acked: usize = fs::read_to_string(dir.path().join("acked")).unwrap().parse().unwrap();
    let (_, report, replayed) = open(dir.path());
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(replayed.len(), acked);
    assert_eq!(replayed.last().unwrap().0.segment, SegmentId(2));
}

#[tokio::test]
#[ignore = "run under a file size limit by a_real_file_size_limit_fails_a_write_and_later_appends_succeed"]
async fn file_size_limit_child() {
    let dir = PathBuf::from(std::env::var_os(FILE_SIZE_LIMIT_DIR).expect("run by its parent"));
    let (wal, _, _) = open(&dir);
    let mut acked = 0;
    let error = loop {
        match wal.append(vec![0x5a; 4000], ()).await {
            Ok(_) => acked += 1,
            Err(error) => break error,
        }
        assert!(acked < 1000, "no file size limit");
    };
    assert!(matches!(error, WalError::DiskFull { .. }), "{error:?}");
    assert!(acked > 0);
    assert!(wal.append(vec![1; 4000], ()).await.is_err(), "still over the limit");
    // A new segment starts from an empty file, under the limit again.
    wal.rotate().await.unwrap();
    wal.append(vec![2; 4000], ()).await.unwrap();
    acked += 1;
    drop(wal);
    fs::write(dir.join("acked"), acked.to_string()).unwrap();
}
