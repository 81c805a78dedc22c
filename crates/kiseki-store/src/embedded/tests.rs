//! The embedded store as a whole: conformance with spans in the head, in cut heads and in
//! blocks; durability across reopening; compaction; retention; backpressure.

use std::sync::Arc;

use kiseki_model::{Span, TraceId};

use super::testing::TestDir;
use super::{EmbeddedOptions, EmbeddedStore};
use crate::query::TraceQuery;
use crate::{Store, StoreError};

const START: u64 = 1_700_000_000_000_000_000;

mod in_the_head {
    use super::*;
    crate::conformance_tests!(EmbeddedStore::open_scratch(|_| {}).await);
}

/// Tiny heads: spans are cut into many small blocks while the suite runs.
mod in_small_blocks {
    use super::*;
    crate::conformance_tests!(
        EmbeddedStore::open_scratch(|options| {
            options.head_max_spans = 200;
            options.max_unflushed_heads = 1_000;
        })
        .await
    );
}

fn options(dir: &TestDir) -> EmbeddedOptions {
    let mut options = EmbeddedOptions::new(dir.path());
    options.retention_max_age = None;
    options
}

fn shop_traces(seed: u64, count: u64) -> Vec<Vec<Span>> {
    let mut generator = kiseki_testkit::Generator::new(seed);
    (0..count).map(|i| generator.trace(START + i * 10_000_000)).collect()
}

fn sorted(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.trace_id, s.span_id));
    spans
}

async fn read_all(store: &EmbeddedStore, traces: &[Vec<Span>]) -> Vec<Span> {
    let mut spans = Vec::new();
    for trace in traces {
        spans.extend(store.trace(trace[0].trace_id).await.unwrap());
    }
    sorted(spans)
}

#[tokio::test]
async fn flushed_and_compacted_blocks_answer_like_the_head() {
    let store = EmbeddedStore::open_scratch(|options| options.compaction_fan_in = 3).await;
    let traces = shop_traces(31, 120);
    for batch in traces.chunks(20) {
        store.append(batch.concat()).await.unwrap();
        store.flush().await.unwrap();
    }
    assert_eq!(store.stats().blocks, 6);
    assert_eq!(store.stats().head_spans, 0);
    let expected = sorted(traces.concat());
    assert_eq!(read_all(&store, &traces).await, expected);
    let query = TraceQuery { limit: 1_000, ..TraceQuery::default() };
    assert_eq!(store.search(&query).await.unwrap().len(), traces.len());

    store.maintain().await.unwrap();
    let stats = store.stats();
    assert_eq!(stats.compactions, 2, "{stats:?}");
    assert_eq!(stats.blocks, 2);
    assert_eq!(stats.block_spans, expected.len() as u64);
    assert_eq!(read_all(&store, &traces).await, expected);
    assert_eq!(store.search(&query).await.unwrap().len(), traces.len());
}

#[tokio::test]
async fn compaction_merges_fewer_blocks_than_its_fan_in_once_they_fill_a_block() {
    let dir = TestDir::new("fill");
    let traces = shop_traces(33, 100);
    let mut block_spans = Vec::new();
    {
        // No compaction while five blocks are written.
        let mut options = options(&dir);
        options.max_block_spans = 0;
        let store = EmbeddedStore::open(options).await.unwrap();
        for batch in traces.chunks(20) {
            store.append(batch.concat()).await.unwrap();
            store.flush().await.unwrap();
            block_spans.push(batch.iter().map(Vec::len).sum::<usize>() as u64);
        }
        assert_eq!(store.stats().blocks, 5);
        store.close().await;
    }
    let mut options = options(&dir);
    options.compaction_fan_in = 32;
    options.max_block_spans = block_spans[..3].iter().sum::<u64>() + 1;
    let store = EmbeddedStore::open(options).await.unwrap();
    store.maintain().await.unwrap();
    let stats = store.stats();
    // The first three fill a block and are merged; the last two wait for more.
    assert_eq!(stats.compactions, 1, "{stats:?}");
    assert_eq!(stats.blocks, 3, "{stats:?}");
    assert_eq!(read_all(&store, &traces).await, sorted(traces.concat()));
}

#[tokio::test]
async fn acknowledged_spans_survive_reopening_from_wal_and_blocks() {
    let dir = TestDir::new("reopen");
    let traces = shop_traces(32, 90);
    {
        let store = EmbeddedStore::open(options(&dir)).await.unwrap();
        store.append(traces[..30].concat()).await.unwrap();
        store.flush().await.unwrap();
        store.append(traces[30..60].concat()).await.unwrap();
        store.close().await;
    }
    {
        // Only the WAL holds traces 30..60: they come back, and the flushed ones only once.
        let store = EmbeddedStore::open(options(&dir)).await.unwrap();
        assert_eq!(read_all(&store, &traces[..60]).await, sorted(traces[..60].concat()));
        store.append(traces[60..].concat()).await.unwrap();
        store.flush().await.unwrap();
        store.close().await;
    }
    let store = EmbeddedStore::open(options(&dir)).await.unwrap();
    assert_eq!(read_all(&store, &traces).await, sorted(traces.concat()));
    assert_eq!(store.stats().block_spans + store.stats().head_spans, traces.concat().len() as u64);
}

#[tokio::test]
async fn a_second_process_cannot_open_the_same_directory() {
    let dir = TestDir::new("locked");
    let _store = EmbeddedStore::open(options(&dir)).await.unwrap();
    let second = EmbeddedStore::open(options(&dir)).await;
    assert!(matches!(second, Err(StoreError::Unavailable(message)) if message.contains("in use")));
}

#[tokio::test]
async fn retention_by_age_drops_whole_blocks_and_hides_older_spans() {
    let store = EmbeddedStore::open_scratch(|_| {}).await;
    let traces = shop_traces(33, 100);
    for batch in traces.chunks(25) {
        store.append(batch.concat()).await.unwrap();
        store.flush().await.unwrap();
    }
    let cutoff = START + 50 * 10_000_000;
    store.delete_before(cutoff).await.unwrap();
    let stats = store.stats();
    assert_eq!(stats.blocks_deleted_by_retention, 1, "{stats:?}");
    assert_eq!(stats.blocks, 3);
    for trace in &traces[..49] {
        let read = store.trace(trace[0].trace_id).await.unwrap();
        assert!(read.iter().all(|s| s.start_time_unix_nano >= cutoff));
    }
}

#[tokio::test]
async fn retention_by_disk_budget_keeps_the_newest_blocks() {
    let store = EmbeddedStore::open_scratch(|options| {
        options.retention_max_age = None;
        options.retention_max_bytes = Some(1);
    })
    .await;
    let traces = shop_traces(34, 80);
    for batch in traces.chunks(20) {
        store.append(batch.concat()).await.unwrap();
        store.flush().await.unwrap();
    }
    store.maintain().await.unwrap();
    let stats = store.stats();
    assert_eq!(stats.blocks, 1, "{stats:?}");
    let newest = traces.last().unwrap();
    assert_eq!(store.trace(newest[0].trace_id).await.unwrap().len(), newest.len());
    assert!(store.trace(traces[0][0].trace_id).await.unwrap().is_empty());
}

#[tokio::test]
async fn appends_are_refused_as_overloaded_while_blocks_cannot_be_written() {
    let store = EmbeddedStore::open_scratch(|options| {
        options.head_max_spans = 50;
        options.max_unflushed_heads = 1;
    })
    .await;
    let blocks = store.blocks_dir();
    std::fs::remove_dir(&blocks).unwrap();
    std::fs::write(&blocks, "not a directory").unwrap();
    let mut generator = kiseki_testkit::Generator::new(35);
    let mut accepted = 0usize;
    let refused = loop {
        match store.append(generator.trace(START)).await {
            Ok(()) => accepted += 1,
            Err(StoreError::Overloaded) => break true,
            Err(other) => panic!("{other}"),
        }
        if accepted > 10_000 {
            break false;
        }
        tokio::task::yield_now().await;
    };
    assert!(refused, "appends kept being accepted");
    let stats = store.stats();
    assert!(stats.head_spans < 2 * 50 + 100, "{stats:?}");
    assert!(stats.appends_refused_overloaded >= 1);
    // Once blocks can be written again, the backlog drains and appends are accepted.
    std::fs::remove_file(&blocks).unwrap();
    std::fs::create_dir(&blocks).unwrap();
    store.flush().await.unwrap();
    store.append(generator.trace(START)).await.unwrap();
}

#[tokio::test]
async fn unknown_traces_read_empty_with_blocks_present() {
    let store = EmbeddedStore::open_scratch(|_| {}).await;
    store.append(shop_traces(36, 10).concat()).await.unwrap();
    store.flush().await.unwrap();
    let unknown = TraceId::new(42).unwrap();
    assert!(store.trace(unknown).await.unwrap().is_empty());
}

/// Regression: an explicit flush or maintenance round racing the background tasks wrote the same
/// head, or merged the same blocks, twice, and spans were doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_flushes_and_compactions_double_nothing() {
    let store = Arc::new(
        EmbeddedStore::open_scratch(|options| {
            options.head_max_spans = 300;
            options.compaction_fan_in = 2;
            options.max_unflushed_heads = 1_000;
        })
        .await,
    );
    let traces = shop_traces(37, 300);
    let total: usize = traces.iter().map(Vec::len).sum();
    let mut tasks = Vec::new();
    for (i, batch) in traces.chunks(10).enumerate() {
        let store = Arc::clone(&store);
        let batch = batch.concat();
        tasks.push(tokio::spawn(async move {
            store.append(batch).await.unwrap();
            if i % 3 == 0 {
                store.flush().await.unwrap();
            }
            if i % 4 == 0 {
                store.maintain().await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    store.flush().await.unwrap();
    store.maintain().await.unwrap();
    let stats = store.stats();
    assert_eq!(stats.block_spans as usize + stats.head_spans as usize, total, "{stats:?}");
    assert_eq!(read_all(&store, &traces).await, sorted(traces.concat()));
}
