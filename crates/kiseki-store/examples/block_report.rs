//! Writes blocks of seeded shop traffic and reports what they cost: bytes per span by column,
//! write speed, trace-by-id and search latency, and compaction.
//!
//! `cargo run --release -p kiseki-store --example block_report -- [spans per block] [blocks]`

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kiseki_model::{Span, TraceId};
use kiseki_store::embedded::block::{Block, BlockId, compact, write_block};
use kiseki_store::query::{AttributeFilter, NewestTraces, TraceQuery};
use parquet::file::reader::{FileReader, SerializedFileReader};

/// The allocator the kiseki binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: u64 = 1_700_000_000_000_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_block: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let blocks: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut generator = kiseki_testkit::Generator::new(42);
    let mut written = Vec::new();
    let mut start = START;
    let mut sample_ids: Vec<TraceId> = Vec::new();
    let mut write_time = Duration::ZERO;
    let mut total_spans = 0usize;
    for b in 0..blocks {
        let spans = generator.spans(per_block, start);
        start = spans.iter().map(|s| s.start_time_unix_nano).max().unwrap_or(start) + 1_000_000;
        if b == 0 {
            let sample = &spans[..spans.len().min(100_000)];
            let otlp = kiseki_codec::otlp::encode_traces_proto(sample).len();
            println!(
                "OTLP protobuf: {:.1} B/span ({})",
                otlp as f64 / sample.len() as f64,
                kiseki_testkit::describe(sample)
            );
        }
        let ids: Vec<TraceId> = spans.iter().step_by(997).map(|s| s.trace_id).collect();
        sample_ids.extend(ids);
        total_spans += spans.len();
        let count = spans.len();
        let began = Instant::now();
        let block = write_block(dir.path(), BlockId::generate(), 0, spans).expect("write");
        let took = began.elapsed();
        write_time += took;
        println!(
            "block {b}: {count} spans written in {took:.2?} ({:.0} spans/s), {:.1} B/span data, index {} KiB",
            count as f64 / took.as_secs_f64(),
            block.meta().data_bytes as f64 / count as f64,
            block.meta().index_bytes / 1024
        );
        if b == 0 {
            column_report(&block.dir().join("data.parquet"), count);
        }
        written.push(block);
    }
    println!(
        "total: {total_spans} spans, write {:.0} spans/s, data {:.1} B/span",
        total_spans as f64 / write_time.as_secs_f64(),
        written.iter().map(|b| b.meta().data_bytes).sum::<u64>() as f64 / total_spans as f64
    );

    if std::env::var_os("WRITE_ONLY").is_some() {
        return;
    }
    point_reads(&written, &sample_ids);
    searches(&written, start);

    if blocks > 1 {
        let inputs: Vec<&Block> = written.iter().take(4).collect();
        let spans: u64 = inputs.iter().map(|b| b.meta().span_count).sum();
        let began = Instant::now();
        let merged = compact(&inputs, dir.path(), BlockId::generate(), 1).expect("compact");
        let took = began.elapsed();
        println!(
            "compaction of {} blocks: {spans} spans in {took:.2?} ({:.0} spans/s), {:.1} B/span",
            inputs.len(),
            spans as f64 / took.as_secs_f64(),
            merged.meta().data_bytes as f64 / spans as f64
        );
    }
}

fn column_report(path: &Path, spans: usize) {
    let file = std::fs::File::open(path).expect("data file");
    let reader = SerializedFileReader::new(file).expect("parquet");
    let mut by_column: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let metadata = reader.metadata();
    for group in metadata.row_groups() {
        for column in group.columns() {
            let name = column.column_path().string();
            let entry = by_column.entry(name).or_default();
            entry.0 += column.compressed_size();
            entry.1 += column.uncompressed_size();
        }
    }
    let mut rows: Vec<_> = by_column.into_iter().collect();
    rows.sort_by_key(|(_, (compressed, _))| -compressed);
    println!("{:<44} {:>9} {:>9}", "column", "B/span", "raw B/span");
    for (name, (compressed, uncompressed)) in rows {
        let per_span = compressed as f64 / spans as f64;
        if per_span >= 0.05 {
            println!("{name:<44} {per_span:>9.2} {:>9.2}", uncompressed as f64 / spans as f64);
        }
    }
    println!("row groups: {}", metadata.num_row_groups());
}

fn percentiles(mut times: Vec<Duration>) -> String {
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    format!("p50 {:.2?} p99 {:.2?} max {:.2?} (n={})", at(0.5), at(0.99), at(1.0), times.len())
}

fn point_reads(blocks: &[Block], ids: &[TraceId]) {
    let mut times = Vec::new();
    let mut spans = 0;
    for &id in ids.iter().take(2_000) {
        let began = Instant::now();
        let found: Vec<Span> = blocks
            .iter()
            .rev()
            .filter(|b| b.may_contain(id))
            .flat_map(|b| b.trace(id).expect("trace"))
            .collect();
        times.push(began.elapsed());
        spans += found.len();
    }
    println!("trace by id (present): {} ({spans} spans)", percentiles(times));
    let mut times = Vec::new();
    for i in 0..2_000u128 {
        let id = TraceId::new(0x5eed_0000_0000_0000_0000_0000_0000_0000 + i * 7_919).expect("id");
        let began = Instant::now();
        let found: usize = blocks
            .iter()
            .filter(|b| b.may_contain(id))
            .map(|b| b.trace(id).expect("trace").len())
            .sum();
        times.push(began.elapsed());
        assert_eq!(found, 0);
    }
    println!("trace by id (absent): {}", percentiles(times));
}

/// What the engine will do: newest block first, stop once the result cannot change.
fn search(blocks: &[Block], query: &TraceQuery) -> usize {
    let mut newest = NewestTraces::new(query.effective_limit());
    for block in blocks.iter().rev() {
        if newest.is_full_before(block.meta().max_start_unix_nano) {
            break;
        }
        for summary in block.search(query).expect("search") {
            newest.add(summary);
        }
    }
    newest.finish().len()
}

fn searches(blocks: &[Block], end: u64) {
    let hour = 3_600_000_000_000u64;
    let queries: Vec<(&str, TraceQuery)> = vec![
        ("recent, no filter", TraceQuery::default()),
        ("service", TraceQuery { service: Some("checkout".into()), ..Default::default() }),
        (
            "service+operation",
            TraceQuery {
                service: Some("frontend".into()),
                operation: Some("POST /api/checkout".into()),
                ..Default::default()
            },
        ),
        ("errors", TraceQuery { errors_only: true, ..Default::default() }),
        (
            "http 500",
            TraceQuery {
                attributes: vec![AttributeFilter::new("http.response.status_code", "500")],
                ..Default::default()
            },
        ),
        (
            "resource attr",
            TraceQuery {
                attributes: vec![AttributeFilter::new("k8s.node.name", "node-2")],
                ..Default::default()
            },
        ),
        ("slow", TraceQuery { min_duration_nanos: Some(500_000_000), ..Default::default() }),
        (
            "packed attr, rare",
            TraceQuery {
                attributes: vec![AttributeFilter::new("app.loyalty.level", "platinum")],
                service: Some("payment".into()),
                errors_only: true,
                ..Default::default()
            },
        ),
        (
            "needle (unique order id)",
            TraceQuery {
                attributes: vec![AttributeFilter::new("app.order.id", "needle")],
                ..Default::default()
            },
        ),
        (
            "no match",
            TraceQuery {
                attributes: vec![AttributeFilter::new("http.request.method", "BREW")],
                ..Default::default()
            },
        ),
        (
            "window, limit 100",
            TraceQuery {
                start_unix_nano: end.saturating_sub(hour / 12),
                end_unix_nano: end,
                limit: 100,
                ..Default::default()
            },
        ),
    ];
    let mut all = Vec::new();
    for (name, query) in &queries {
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..5 {
            let began = Instant::now();
            found = search(blocks, query);
            times.push(began.elapsed());
        }
        all.extend(times.iter().copied());
        println!("search {name:<20} {} found {found}", percentiles(times));
    }
    println!("search, all queries: {}", percentiles(all));
}
