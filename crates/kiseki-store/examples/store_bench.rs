//! The embedded store end to end: durable ingest through the WAL, blocks, compaction, then
//! trace-by-id and search latency over everything stored.
//!
//! `cargo run --release -p kiseki-store --example store_bench -- [spans] [data dir]`
//!
//! Spans come from the seeded shop generator, appended in batches of 500 by 8 concurrent
//! writers (like receivers would). Prints one line per figure; the data directory is removed at
//! the end unless it was given.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiseki_model::TraceId;
use kiseki_store::Store;
use kiseki_store::embedded::{EmbeddedOptions, EmbeddedStore};
use kiseki_store::query::{AttributeFilter, TraceQuery};

const START: u64 = 1_700_000_000_000_000_000;
const BATCH_SPANS: usize = 500;
const WRITERS: u64 = 8;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000_000);
    let given_dir = args.get(2).map(PathBuf::from);
    let dir = given_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kiseki-store-bench-{}", std::process::id()))
    });
    let mut options = EmbeddedOptions::new(&dir);
    options.retention_max_age = None;
    let store = Arc::new(EmbeddedStore::open(options).await.expect("open store"));

    // Ingest: each writer generates its own share of the traffic.
    let per_writer = total / WRITERS as usize;
    let cpu_before = cpu_seconds();
    let began = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut generator = kiseki_testkit::Generator::new(1_000 + w);
                let mut written = 0usize;
                let mut otlp_bytes = 0usize;
                let mut sample: Vec<(TraceId, usize)> = Vec::new();
                let mut start = START + w * 1_000;
                let mut generate_time = Duration::ZERO;
                while written < per_writer {
                    let generating = Instant::now();
                    let spans = generator.spans(BATCH_SPANS, start);
                    generate_time += generating.elapsed();
                    start += 40_000_000;
                    written += spans.len();
                    if sample.len() < 200 {
                        let id = spans[0].trace_id;
                        sample.push((id, spans.iter().filter(|s| s.trace_id == id).count()));
                    }
                    otlp_bytes += kiseki_codec::otlp::encode_traces_proto(&spans).len();
                    loop {
                        match store.append(spans.clone()).await {
                            Ok(()) => break,
                            Err(kiseki_store::StoreError::Overloaded) => {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Err(other) => panic!("append failed: {other}"),
                        }
                    }
                }
                (written, otlp_bytes, sample, generate_time)
            })
        })
        .collect();
    let mut written = 0;
    let mut otlp_bytes = 0;
    let mut sample = Vec::new();
    let mut generate_time = Duration::ZERO;
    for writer in writers {
        let (w, b, s, g) = writer.await.expect("writer");
        written += w;
        otlp_bytes += b;
        sample.extend(s);
        generate_time += g;
    }
    let ingest = began.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    println!(
        "ingest: {written} spans in {:.1} s = {:.0} spans/s durable; process CPU {:.1} s \
         ({:.0} spans per CPU-second; {:.1} s of it generating and encoding the test traffic)",
        ingest.as_secs_f64(),
        written as f64 / ingest.as_secs_f64(),
        cpu,
        written as f64 / cpu,
        generate_time.as_secs_f64(),
    );
    println!("rss after ingest: {} MiB", rss_mib());

    let began = Instant::now();
    store.flush().await.expect("flush");
    store.maintain().await.expect("compact");
    let stats = store.stats();
    println!(
        "flush + compaction: {:.1} s; {} blocks, {} spans in blocks",
        began.elapsed().as_secs_f64(),
        stats.blocks,
        stats.block_spans
    );
    let block_bytes = dir_bytes(&dir.join("blocks"));
    println!(
        "disk: {block_bytes} bytes of blocks = {:.1} B/span; OTLP protobuf {:.1} B/span; ratio {:.3}",
        block_bytes as f64 / written as f64,
        otlp_bytes as f64 / written as f64,
        block_bytes as f64 / otlp_bytes as f64,
    );

    let mut by_id = Vec::new();
    for round in 0..5 {
        for &(trace_id, _) in &sample {
            let began = Instant::now();
            let spans = store.trace(trace_id).await.expect("trace");
            by_id.push(began.elapsed());
            assert!(!spans.is_empty() || round > 0, "sampled trace {trace_id} not found");
        }
    }
    report("trace by id", &mut by_id);

    let queries = query_mix();
    let mut searches = Vec::new();
    for (name, query) in &queries {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..10 {
            let began = Instant::now();
            found = store.search(query).await.expect("search").len();
            times.push(began.elapsed());
        }
        report(&format!("search {name} ({found} found)"), &mut times.clone());
        searches.extend(times);
    }
    report("search, all queries", &mut searches);
    println!("rss at end: {} MiB", rss_mib());

    drop(store);
    if given_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn query_mix() -> Vec<(&'static str, TraceQuery)> {
    let limit = 20;
    vec![
        ("service", TraceQuery { service: Some("checkout".into()), limit, ..Default::default() }),
        (
            "service+operation",
            TraceQuery {
                service: Some("frontend".into()),
                operation: Some("GET /api/products/{productId}".into()),
                limit,
                ..Default::default()
            },
        ),
        (
            "attribute status=500",
            TraceQuery {
                attributes: vec![AttributeFilter::new("http.response.status_code", "500")],
                limit,
                ..Default::default()
            },
        ),
        (
            "errors only, one service",
            TraceQuery {
                service: Some("payment".into()),
                errors_only: true,
                limit,
                ..Default::default()
            },
        ),
        (
            "min duration 1s",
            TraceQuery { min_duration_nanos: Some(1_000_000_000), limit, ..Default::default() },
        ),
        (
            "db.system=redis, in an old time range",
            TraceQuery {
                attributes: vec![AttributeFilter::new("db.system", "redis")],
                start_unix_nano: START,
                end_unix_nano: START + 60_000_000_000,
                limit,
                ..Default::default()
            },
        ),
    ]
}

fn report(name: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms over {} runs",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
}

fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        total += if meta.is_dir() { dir_bytes(&entry.path()) } else { meta.len() };
    }
    total
}

/// User plus system CPU seconds of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}
