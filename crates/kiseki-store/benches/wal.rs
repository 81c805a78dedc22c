//! How fast the WAL makes records durable: appends per second and bytes per second with 1, 8
//! and 64 concurrent appenders, for records the size of a 500-span OTLP batch (250 KB) and of a
//! small one (5 KB); and what one `fdatasync` costs on this disk, the floor under every group.
//!
//! The WAL lives in the system temp dir, so the figures are that disk's. Each sample ends by
//! rotating and deleting the old segments, outside the timed part.
//! Run with `cargo bench -p kiseki-store --bench wal`.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiseki_store::embedded::wal::{SegmentId, Wal, WalConfig};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kiseki-wal-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Bytes that do not compress, like a protobuf batch to a filesystem that would try.
fn record(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn bench_appends(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().build().expect("runtime");
    let mut group = c.benchmark_group("wal_append");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for (label, len) in [("250KB", 250_000), ("5KB", 5_000)] {
        let data = Arc::new(record(len));
        group.throughput(Throughput::Bytes(len as u64));
        for appenders in [1, 8, 64] {
            let dir = temp_dir(&format!("{label}-{appenders}"));
            let (wal, _) =
                Wal::open(WalConfig::new(&dir), |_: SegmentId, _: Vec<()>| {}, |_, _| {})
                    .expect("open wal");
            let wal = Arc::new(wal);
            group.bench_function(format!("{label}/{appenders}_appenders"), |b| {
                b.iter_custom(|appends| {
                    let per_task = appends.div_ceil(appenders);
                    let start = Instant::now();
                    runtime.block_on(async {
                        let tasks: Vec<_> = (0..appenders)
                            .map(|_| {
                                let wal = Arc::clone(&wal);
                                let data = Arc::clone(&data);
                                tokio::spawn(async move {
                                    for _ in 0..per_task {
                                        wal.append(data.to_vec(), ()).await.expect("append");
                                    }
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await.expect("appender");
                        }
                    });
                    let elapsed =
                        start.elapsed().mul_f64(appends as f64 / (per_task * appenders) as f64);
                    let rotation = runtime.block_on(wal.rotate()).expect("rotate");
                    wal.remove_segments_up_to(rotation.closed).expect("remove");
                    elapsed
                });
            });
            let stats = wal.stats();
            eprintln!(
                "{label}/{appenders}: {:.1} records per group, {} syncs",
                stats.records as f64 / stats.groups as f64,
                stats.syncs
            );
            drop(wal);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    group.finish();
}

fn bench_fdatasync(c: &mut Criterion) {
    let dir = temp_dir("fdatasync");
    let mut group = c.benchmark_group("fdatasync");
    group.sample_size(20);
    for (label, len) in [("4KB", 4096), ("250KB", 250_000)] {
        let data = record(len);
        let mut file = File::create(dir.join(label)).expect("file");
        group.bench_function(format!("after_writing_{label}"), |b| {
            b.iter(|| {
                file.write_all(&data).expect("write");
                file.sync_data().expect("sync");
            });
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_appends, bench_fdatasync);
criterion_main!(benches);
