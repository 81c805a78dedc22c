//! Block throughput on the seeded shop traffic: writing a block (spans per second, one core),
//! reading a trace by id, and searching one block.
//! Run with `cargo bench -p kiseki-store --bench block`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kiseki_model::{Span, TraceId};
use kiseki_store::embedded::block::{BlockId, write_block};
use kiseki_store::query::{AttributeFilter, TraceQuery};

/// The allocator the kiseki binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: u64 = 1_700_000_000_000_000_000;

fn spans(count: usize) -> Vec<Span> {
    kiseki_testkit::Generator::new(42).spans(count, START)
}

fn write(c: &mut Criterion) {
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

fn read(c: &mut Criterion) {
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

criterion_group!(benches, write, read);
criterion_main!(benches);
