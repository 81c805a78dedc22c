//! Block throughput on the seeded shop traffic: writing a block (spans per second, one core),
//! merging blocks (compaction), reading a trace by id, and searching one block.
//! Run with `cargo bench -p kiseki-store --bench block`.
//!
//! Times are the CPU time of the benchmarking thread (all of this work runs on it), not wall
//! time: the machines these run on are shared, and another process's load must not show up as
//! a slower block writer.

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kiseki_model::{Span, TraceId};
use kiseki_store::embedded::block::{Block, BlockId, compact, write_block};
use kiseki_store::query::{AttributeFilter, TraceQuery};

/// The allocator the kiseki binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (nanoseconds on the CPU).
struct ThreadCpuTime;

impl ThreadCpuTime {
    fn now() -> u64 {
        let text = std::fs::read_to_string("/proc/thread-self/schedstat")
            .expect("this bench measures CPU time from /proc/thread-self/schedstat (Linux)");
        text.split_whitespace().next().and_then(|n| n.parse().ok()).expect("schedstat")
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = Duration;

    fn start(&self) -> u64 {
        Self::now()
    }

    fn end(&self, start: u64) -> Duration {
        Duration::from_nanos(Self::now().saturating_sub(start))
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}

const START: u64 = 1_700_000_000_000_000_000;

fn spans(count: usize) -> Vec<Span> {
    kiseki_testkit::Generator::new(42).spans(count, START)
}

fn write(c: &mut Criterion<ThreadCpuTime>) {
    let spans = spans(200_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut group = c.benchmark_group("block");
    group.sample_size(10);
    group.throughput(Throughput::Elements(spans.len() as u64));
    // The spans are cloned outside the timed region; freeing them is inside, as write_block
    // consumes them.
    group.bench_function("write_block", |b| {
        b.iter_batched(
            || spans.clone(),
            |spans| {
                let block = write_block(dir.path(), BlockId::generate(), 0, spans).expect("write");
                block.remove().expect("remove");
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn read(c: &mut Criterion<ThreadCpuTime>) {
    let spans = spans(1_000_000);
    let ids: Vec<TraceId> = spans.iter().step_by(101).map(|s| s.trace_id).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let block = write_block(dir.path(), BlockId::generate(), 0, spans).expect("write");
    let mut group = c.benchmark_group("block_1m_spans");
    let mut next = ids.iter().cycle();
    group.bench_function("trace_by_id", |b| {
        b.iter(|| block.trace(*next.next().expect("ids")).expect("trace"))
    });
    group.sample_size(20);
    let queries = [
        ("search_newest", TraceQuery::default()),
        ("search_service", TraceQuery { service: Some("checkout".into()), ..Default::default() }),
        (
            "search_http_500",
            TraceQuery {
                attributes: vec![AttributeFilter::new("http.response.status_code", "500")],
                ..Default::default()
            },
        ),
        (
            "search_packed_attribute",
            TraceQuery {
                attributes: vec![AttributeFilter::new("app.order.id", "needle")],
                ..Default::default()
            },
        ),
    ];
    for (name, query) in queries {
        group.bench_function(name, |b| b.iter(|| block.search(&query).expect("search")));
    }
    group.finish();
}

/// Blocks merged by one compaction in the bench, and spans in each.
const COMPACT_INPUTS: usize = 8;
const COMPACT_SPANS_PER_INPUT: usize = 125_000;

/// Merging blocks written from consecutive heads of the same traffic: traces are spread over
/// the inputs by trace id, and the traces that were open when a head was cut lie in two inputs.
fn merge(c: &mut Criterion<ThreadCpuTime>) {
    let spans = spans(COMPACT_INPUTS * COMPACT_SPANS_PER_INPUT);
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs: Vec<Block> = spans
        .chunks(COMPACT_SPANS_PER_INPUT)
        .map(|part| write_block(dir.path(), BlockId::generate(), 0, part.to_vec()).expect("write"))
        .collect();
    drop(spans);
    let inputs: Vec<&Block> = inputs.iter().collect();
    let mut group = c.benchmark_group("compact");
    group.sample_size(10);
    group.throughput(Throughput::Elements((COMPACT_INPUTS * COMPACT_SPANS_PER_INPUT) as u64));
    group.bench_function("8_blocks", |b| {
        b.iter(|| {
            let merged = compact(&inputs, dir.path(), BlockId::generate(), 1).expect("compact");
            merged.remove().expect("remove");
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = write, merge, read
}
criterion_main!(benches);
