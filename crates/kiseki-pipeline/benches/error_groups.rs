//! What error grouping costs per error span, on the error spans of the seeded shop traffic and
//! on stack traces of each format: reading the report, normalising, parsing frames, hashing and
//! updating the group. Run with `cargo bench -p kiseki-pipeline --bench error_groups`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kiseki_model::Span;
use kiseki_pipeline::errors::{ErrorGroups, ErrorReport, normalise_message, top_frames};

/// The allocator the kiseki binary uses, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn error_spans() -> Vec<Span> {
    let spans = kiseki_testkit::Generator::new(42).spans(400_000, 1_700_000_000_000_000_000);
    spans.into_iter().filter(Span::is_error).collect()
}

const JAVA: &str = "java.lang.IllegalStateException: ad service cache not loaded for category 7\n\tat com.shop.ads.AdCache.lookup(AdCache.java:88)\n\tat com.shop.ads.AdService.lambda$getAds$0(AdService.java:41)\n\tat com.shop.ads.AdService$$Lambda$214/0x0000000800c4a440.apply(Unknown Source)\n\tat java.base/java.util.Optional.map(Optional.java:260)\n\tat com.shop.ads.AdService.getAds(AdService.java:40)\n\tat io.grpc.stub.ServerCalls$UnaryServerCallHandler$UnaryServerCallListener.onHalfClose(ServerCalls.java:182)\n\tat java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)\n\tat java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:642)\n\tat java.base/java.lang.Thread.run(Thread.java:1583)\n";
const PYTHON: &str = "Traceback (most recent call last):\n  File \"/srv/venv/lib/python3.11/site-packages/flask/app.py\", line 1484, in full_dispatch_request\n    rv = self.dispatch_request()\n  File \"/srv/app/views.py\", line 42, in order_detail\n    order = load(order_id)\n  File \"/srv/app/orders.py\", line 7, in load\n    raise OrderNotFound(order_id)\norders.OrderNotFound: order 12345 not found\n";

fn bench(c: &mut Criterion) {
    let spans = error_spans();
    eprintln!("{} error spans", spans.len());
    let mut group = c.benchmark_group("error_groups");
    group.throughput(Throughput::Elements(spans.len() as u64));
    group.bench_function("report_and_record", |b| {
        b.iter_batched_ref(
            ErrorGroups::default,
            |groups| {
                for span in &spans {
                    groups.record_span(span);
                }
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function("report_only", |b| {
        b.iter(|| spans.iter().filter_map(ErrorReport::of).count())
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("normalise_message", |b| {
        b.iter(|| normalise_message("order 12345 not found for user jane@example.com (request 6f1c2b0e-8e4d-4c3a-9f2a-1b2c3d4e5f60) at 2024-05-06T10:11:12Z from 10.42.0.17:5432"))
    });
    group.bench_function("top_frames_java", |b| b.iter(|| top_frames(JAVA, 5)));
    group.bench_function("top_frames_python", |b| b.iter(|| top_frames(PYTHON, 5)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
