//! Decode throughput per codec, in spans per second, on the seeded shop traffic.
//!
//! Payloads are what SDKs send: each service exports its own spans in batches of up to 512.
//! Run with `cargo bench -p kiseki-codec --bench decode`.

use std::collections::BTreeMap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kiseki_model::Span;

/// The allocator the kiseki binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// About 50 000 spans as per-service batches of at most 512.
fn batches() -> Vec<Vec<Span>> {
    let spans = kiseki_testkit::Generator::new(42).spans(50_000, 1_700_000_000_000_000_000);
    let mut by_service: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    for span in spans {
        by_service.entry(span.service_name().to_string()).or_default().push(span);
    }
    by_service
        .into_values()
        .flat_map(|spans| spans.chunks(512).map(<[Span]>::to_vec).collect::<Vec<_>>())
        .collect()
}

fn bench_codec(
    c: &mut Criterion,
    name: &str,
    encode: fn(&[Span]) -> Vec<u8>,
    decode: fn(&[u8]) -> usize,
) {
    let batches = batches();
    let span_count: usize = batches.iter().map(Vec::len).sum();
    let payloads: Vec<Vec<u8>> = batches.iter().map(|b| encode(b)).collect();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    for payload in &payloads {
        assert!(decode(payload) > 0, "{name} decodes its own payloads");
    }
    eprintln!("{name}: {span_count} spans, {:.0} bytes per span", bytes as f64 / span_count as f64);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(span_count as u64));
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.iter(|| payloads.iter().map(|p| decode(p)).sum::<usize>());
    });
    group.finish();
}

fn otlp(c: &mut Criterion) {
    use kiseki_codec::otlp;
    bench_codec(c, "otlp_proto", otlp::encode_traces_proto, |p| {
        otlp::decode_traces_proto(p).map_or(0, |d| d.spans.len())
    });
    bench_codec(c, "otlp_json", otlp::encode_traces_json, |p| {
        otlp::decode_traces_json(p).map_or(0, |d| d.spans.len())
    });
}

criterion_group!(benches, otlp);
criterion_main!(benches);
