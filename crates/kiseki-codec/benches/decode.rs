//! Decode throughput per codec, in spans per second, on the seeded shop traffic.
//!
//! Payloads are what SDKs send: each service exports its own spans in batches of up to 512,
//! encoded by kiseki's own encoder for that format. Formats kiseki has no encoder for (Zipkin v1)
//! are measured on the payloads real tracers sent (`testdata/tracers`). The decoded spans are
//! dropped outside the timed region: freeing them is the cost of whoever consumes them.
//! Run with `cargo bench -p kiseki-codec --bench decode`.

use std::collections::BTreeMap;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kiseki_codec::{datadog, jaeger, otlp, zipkin};
use kiseki_model::Span;

/// The allocator the kiseki binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Decode = fn(&[u8]) -> Vec<Span>;

/// About 50 000 spans in batches of at most 512, each from one service instance (one resource),
/// as an SDK exports them.
fn batches() -> Vec<Vec<Span>> {
    let spans = kiseki_testkit::Generator::new(42).spans(50_000, 1_700_000_000_000_000_000);
    let mut by_instance: BTreeMap<usize, Vec<Span>> = BTreeMap::new();
    for span in spans {
        by_instance.entry(std::sync::Arc::as_ptr(&span.resource) as usize).or_default().push(span);
    }
    by_instance
        .into_values()
        .flat_map(|spans| spans.chunks(512).map(<[Span]>::to_vec).collect::<Vec<_>>())
        .collect()
}

fn bench_payloads(c: &mut Criterion, name: &str, payloads: &[Vec<u8>], decode: Decode) {
    let span_count: usize = payloads.iter().map(|p| decode(p).len()).sum();
    assert!(span_count > 0, "{name} decodes its payloads");
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    eprintln!("{name}: {span_count} spans, {:.0} bytes per span", bytes as f64 / span_count as f64);
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(span_count as u64));
    group.sample_size(20);
    group.bench_function(name, |b| {
        b.iter_batched(
            || (),
            |()| payloads.iter().map(|p| decode(p)).collect::<Vec<_>>(),
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

fn bench_encoded(c: &mut Criterion, name: &str, encode: fn(&[Span]) -> Vec<u8>, decode: Decode) {
    let payloads: Vec<Vec<u8>> = batches().iter().map(|b| encode(b)).collect();
    bench_payloads(c, name, &payloads, decode);
}

/// Real captures of one format, repeated to about 50 000 spans.
fn captured(folders: &[&str], path_part: &str, decode: Decode) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/tracers");
    let mut bodies = Vec::new();
    for folder in folders {
        let mut entries: Vec<_> =
            std::fs::read_dir(root.join(folder)).expect("fixture folder").flatten().collect();
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".body") && name.contains(path_part) {
                bodies.push(std::fs::read(&path).expect("fixture"));
            }
        }
    }
    let per_round: usize = bodies.iter().map(|b| decode(b).len()).sum();
    let rounds = 50_000 / per_round.max(1) + 1;
    (0..rounds).flat_map(|_| bodies.clone()).collect()
}

fn otlp_codecs(c: &mut Criterion) {
    bench_encoded(c, "otlp_proto", otlp::encode_traces_proto, |p| {
        otlp::decode_traces_proto(p).map(|d| d.spans).unwrap_or_default()
    });
    bench_encoded(c, "otlp_json", otlp::encode_traces_json, |p| {
        otlp::decode_traces_json(p).map(|d| d.spans).unwrap_or_default()
    });
}

fn zipkin_codecs(c: &mut Criterion) {
    bench_encoded(c, "zipkin_v2_json", zipkin::encode_v2_json, |p| {
        zipkin::decode_v2_json(p).unwrap_or_default()
    });
    bench_encoded(c, "zipkin_v2_proto", zipkin::encode_v2_proto, |p| {
        zipkin::decode_v2_proto(p).unwrap_or_default()
    });
    let v1_json: Decode = |p| zipkin::decode_v1_json(p).unwrap_or_default();
    let payloads =
        captured(&["python-pyzipkin-v1-json", "node-zipkin-js-v1-json"], "api-v1-spans", v1_json);
    bench_payloads(c, "zipkin_v1_json_captured", &payloads, v1_json);
    let v1_thrift: Decode = |p| zipkin::decode_v1_thrift(p).unwrap_or_default();
    let payloads = captured(
        &["python-pyzipkin-v1-thrift", "node-zipkin-js-v1-thrift"],
        "api-v1-spans",
        v1_thrift,
    );
    bench_payloads(c, "zipkin_v1_thrift_captured", &payloads, v1_thrift);
}

fn jaeger_codecs(c: &mut Criterion) {
    // One resource per batch, so each encodes to exactly one Jaeger `Batch`.
    let binary = |spans: &[Span]| {
        jaeger::encode_thrift_batch(spans, jaeger::ThriftProtocol::Binary).concat()
    };
    bench_encoded(c, "jaeger_thrift_binary", binary, |p| {
        jaeger::decode_thrift_batch_binary(p).unwrap_or_default()
    });
    let compact = |spans: &[Span]| {
        jaeger::encode_thrift_batch(spans, jaeger::ThriftProtocol::Compact).concat()
    };
    bench_encoded(c, "jaeger_thrift_compact", compact, |p| {
        jaeger::decode_thrift_batch_compact(p).unwrap_or_default()
    });
    bench_encoded(c, "jaeger_proto", jaeger::encode_proto_post_spans, |p| {
        jaeger::decode_proto_post_spans(p).unwrap_or_default()
    });
}

fn datadog_codecs(c: &mut Criterion) {
    bench_encoded(c, "datadog_v04_msgpack", datadog::encode_v04_msgpack, |p| {
        datadog::decode_v04_msgpack(p).unwrap_or_default()
    });
    bench_encoded(c, "datadog_v05", datadog::encode_v05, |p| {
        datadog::decode_v05(p).unwrap_or_default()
    });
}

criterion_group!(benches, otlp_codecs, zipkin_codecs, jaeger_codecs, datadog_codecs);
criterion_main!(benches);
