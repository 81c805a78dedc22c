//! The embedded store: spans go to the WAL, then the head, then immutable blocks on disk.
//!
//! An append is acknowledged once its WAL record is synced and its spans are in the head, so
//! they are durable and searchable at once. A background task cuts the head into a block when
//! it is large or old enough, then deletes the WAL segments the block covers. Another merges
//! small blocks and applies retention. Reads look at the head, the cut heads still being
//! written and the blocks, newest first.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use kiseki_model::{Span, TraceId};
use rustc_hash::FxHashMap;
use tokio::sync::Notify;

use super::block::{self, Block, BlockError, BlockId};
use super::files::{self, StoreDir};
use super::head::{Head, HeadSnapshot};
use super::options::EmbeddedOptions;
use super::wal::{Applier, SegmentId, Wal, WalConfig, WalError};
use crate::catalog::Catalog;
use crate::query::{NewestTraces, Operation, TraceQuery, TraceSummary, merge_into};
use crate::{Store, StoreError, StoreMetric};

/// How often the background tasks look for work when nothing wakes them.
const FLUSH_TICK: Duration = Duration::from_secs(1);
const MAINTENANCE_TICK: Duration = Duration::from_secs(10);

/// Counters and gauges of the embedded store, for the server's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbeddedStats {
    pub head_spans: u64,
    pub unflushed_heads: u64,
    pub blocks: u64,
    pub block_spans: u64,
    pub block_bytes: u64,
    pub flushes: u64,
    pub flush_failures: u64,
    pub compactions: u64,
    /// Spans written again by compaction; over spans appended, the store's write amplification.
    pub compacted_spans: u64,
    pub blocks_deleted_by_retention: u64,
    pub appends_refused_overloaded: u64,
    pub wal_records: u64,
    pub wal_bytes: u64,
    pub wal_syncs: u64,
}

/// Traces kept on local disk: see the module documentation.
pub struct EmbeddedStore {
    shared: Arc<Shared>,
    wal: Arc<Wal<Vec<Span>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// A test store's directory, removed after everything else is dropped.
    #[cfg(test)]
    scratch: Option<super::testing::TestDir>,
}

/// The state the store's handle, the WAL writer and the background tasks share.
struct Shared {
    options: EmbeddedOptions,
    dir: StoreDir,
    /// The head spans are added to. Lock order: `active` before `sealed`.
    active: Mutex<ActiveHead>,
    sealed: RwLock<Sealed>,
    /// Spans that started before this are deleted; reads skip them.
    deleted_before: AtomicU64,
    wake_flusher: Notify,
    stopping: AtomicBool,
    /// Wakes the background tasks to stop.
    stop: Notify,
    /// Held while a cut head is written, so an explicit flush and the background task never
    /// write the same head twice.
    flushing: Mutex<()>,
    /// Held during compaction and retention, so two rounds never merge the same blocks.
    maintaining: Mutex<()>,
    counters: Counters,
}

#[derive(Default)]
struct ActiveHead {
    head: Head,
    /// When the first span of this head arrived.
    since: Option<Instant>,
}

/// What is no longer written to: heads waiting for their block, and the blocks.
#[derive(Default, Clone)]
struct Sealed {
    cut_heads: Vec<Arc<CutHead>>,
    blocks: Vec<Arc<Block>>,
}

/// A head that takes no more spans, waiting to be written as a block.
struct CutHead {
    head: Head,
    /// Its spans are in WAL segments up to this one.
    last_segment: SegmentId,
}

#[derive(Default)]
struct Counters {
    flushes: AtomicU64,
    flush_failures: AtomicU64,
    compactions: AtomicU64,
    compacted_spans: AtomicU64,
    blocks_deleted_by_retention: AtomicU64,
    appends_refused_overloaded: AtomicU64,
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `options.dir`: loads the blocks, replays the WAL into the
    /// head and starts the background tasks. Must run inside a Tokio runtime.
    pub async fn open(options: EmbeddedOptions) -> Result<Self, StoreError> {
        let dir =
            StoreDir::open(&options.dir).map_err(|e| unavailable("open data directory", e))?;
        let deleted_before = dir.read_deleted_before().map_err(|e| unavailable("read", e))?;
        let checkpoint = dir.read_checkpoint().map_err(|e| unavailable("read", e))?;
        let blocks_dir = dir.blocks();
        let (blocks, opened) = tokio::task::spawn_blocking(move || block::open_blocks(&blocks_dir))
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .map_err(|e| unavailable("open blocks", e))?;
        for (path, error) in &opened.skipped {
            tracing::warn!(%error, path = %path.display(), "block skipped at start-up");
        }
        let shared = Arc::new(Shared {
            options,
            dir,
            active: Mutex::default(),
            sealed: RwLock::new(Sealed {
                cut_heads: Vec::new(),
                blocks: blocks.into_iter().map(Arc::new).collect(),
            }),
            deleted_before: AtomicU64::new(deleted_before),
            wake_flusher: Notify::new(),
            stopping: AtomicBool::new(false),
            stop: Notify::new(),
            flushing: Mutex::new(()),
            maintaining: Mutex::new(()),
            counters: Counters::default(),
        });
        let mut replayed_spans = 0usize;
        let mut undecodable = 0usize;
        let mut wal_config = WalConfig::new(shared.dir.wal());
        wal_config.max_pending_records = shared.options.wal_queue_records;
        let replay_into = Arc::clone(&shared);
        let (wal, report) = Wal::open(
            wal_config,
            HeadApplier(Arc::clone(&shared)),
            |location, record: &[u8]| {
                if checkpoint.is_some_and(|flushed| location.segment <= flushed) {
                    return;
                }
                match files::decode_record(record) {
                    Ok(spans) => {
                        replayed_spans += spans.len();
                        replay_into.active().insert(spans);
                    }
                    Err(error) => {
                        undecodable += 1;
                        tracing::error!(%error, segment = %location.segment, offset = location.offset,
                            "wal record that passed its checksum could not be decoded; skipped");
                    }
                }
            },
        )
        .map_err(|e| unavailable("open wal", e))?;
        drop(replay_into);
        tracing::info!(
            blocks = shared.sealed().blocks.len(),
            replayed_spans,
            undecodable,
            report = ?report,
            dir = %shared.options.dir.display(),
            "embedded store opened"
        );
        let wal = Arc::new(wal);
        let tasks = vec![
            tokio::spawn(flush_loop(Arc::clone(&shared), Arc::clone(&wal))),
            tokio::spawn(maintenance_loop(Arc::clone(&shared))),
        ];
        Ok(Self {
            shared,
            wal,
            tasks,
            #[cfg(test)]
            scratch: None,
        })
    }

    #[cfg(test)]
    pub(crate) fn blocks_dir(&self) -> std::path::PathBuf {
        self.shared.dir.blocks()
    }

    /// A store in a fresh scratch directory that is removed when the store is dropped. Test
    /// traffic is from 2023, so retention by age is off unless `configure` turns it on.
    #[cfg(test)]
    pub(crate) async fn open_scratch(configure: impl FnOnce(&mut EmbeddedOptions)) -> Self {
        let dir = super::testing::TestDir::new("store");
        let mut options = EmbeddedOptions::new(dir.path());
        options.retention_max_age = None;
        configure(&mut options);
        let mut store = Self::open(options).await.expect("open scratch store");
        store.scratch = Some(dir);
        store
    }

    /// Counters and sizes, for metrics.
    pub fn stats(&self) -> EmbeddedStats {
        let counters = &self.shared.counters;
        let head_spans = self.shared.active().head.span_count() as u64;
        let sealed = self.shared.sealed();
        let wal = self.wal.stats();
        EmbeddedStats {
            head_spans,
            unflushed_heads: sealed.cut_heads.len() as u64,
            blocks: sealed.blocks.len() as u64,
            block_spans: sealed.blocks.iter().map(|b| b.meta().span_count).sum(),
            block_bytes: sealed.blocks.iter().map(|b| b.meta().data_bytes).sum(),
            flushes: counters.flushes.load(Ordering::Relaxed),
            flush_failures: counters.flush_failures.load(Ordering::Relaxed),
            compactions: counters.compactions.load(Ordering::Relaxed),
            compacted_spans: counters.compacted_spans.load(Ordering::Relaxed),
            blocks_deleted_by_retention: counters
                .blocks_deleted_by_retention
                .load(Ordering::Relaxed),
            appends_refused_overloaded: counters.appends_refused_overloaded.load(Ordering::Relaxed),
            wal_records: wal.records,
            wal_bytes: wal.bytes,
            wal_syncs: wal.syncs,
        }
    }

    /// Cuts the head and writes every cut head into a block now; for tests and shutdown.
    pub async fn flush(&self) -> Result<(), StoreError> {
        cut_head(&self.shared, &self.wal).await?;
        flush_cut_heads(&self.shared, &self.wal).await
    }

    /// Merges blocks and applies retention now, as the background task does every few seconds.
    pub async fn maintain(&self) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        blocking(move || shared.maintain()).await?
    }

    /// Lets the background tasks finish what they are doing, then closes the WAL. The head is
    /// not written as a block: it is in the WAL, which the next start replays.
    pub async fn close(mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.shared.stop.notify_waiters();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        self.wal.close().await;
    }

    fn stop_tasks(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Puts durable spans into the head, on the WAL's writer thread, in log order.
struct HeadApplier(Arc<Shared>);

impl Applier<Vec<Span>> for HeadApplier {
    fn apply(&mut self, _segment: SegmentId, payloads: Vec<Vec<Span>>) {
        let mut active = self.0.active();
        for spans in payloads {
            active.insert(spans);
        }
    }

    fn segment_closed(&mut self, closed: SegmentId, _opened: SegmentId) {
        // Exactly the spans of segments up to `closed` are in the head now: cut it here.
        let mut active = self.0.active();
        if active.head.is_empty() {
            return;
        }
        let head = std::mem::take(&mut *active).head;
        let mut sealed = self.0.sealed_mut();
        sealed.cut_heads.push(Arc::new(CutHead { head, last_segment: closed }));
    }
}

impl ActiveHead {
    fn insert(&mut self, spans: Vec<Span>) {
        if self.since.is_none() && !spans.is_empty() {
            self.since = Some(Instant::now());
        }
        self.head.insert(spans);
    }
}

impl Shared {
    fn active(&self) -> MutexGuard<'_, ActiveHead> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sealed(&self) -> std::sync::RwLockReadGuard<'_, Sealed> {
        self.sealed.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn sealed_mut(&self) -> std::sync::RwLockWriteGuard<'_, Sealed> {
        self.sealed.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses an append when cut heads pile up because blocks cannot be written fast enough.
    fn check_room(&self) -> Result<(), StoreError> {
        let head_spans = self.active().head.span_count();
        let max = self.options.head_max_spans;
        let backlog = self.sealed().cut_heads.len();
        let full = head_spans >= max && backlog >= self.options.max_unflushed_heads.max(1);
        if full {
            self.counters.appends_refused_overloaded.fetch_add(1, Ordering::Relaxed);
            self.wake_flusher.notify_one();
            return Err(StoreError::Overloaded);
        }
        Ok(())
    }

    /// Whether the head should be cut now. Not while the backlog of cut heads is full: memory
    /// stays bounded, and appends are refused until blocks catch up.
    fn head_is_due(&self) -> bool {
        if self.sealed().cut_heads.len() >= self.options.max_unflushed_heads.max(1) {
            return false;
        }
        let active = self.active();
        !active.head.is_empty()
            && (active.head.span_count() >= self.options.head_max_spans
                || active.since.is_some_and(|since| since.elapsed() >= self.options.head_max_age))
    }

    /// The head, cut heads and blocks as they are at one moment.
    fn snapshot(&self) -> (HeadSnapshot, Sealed) {
        let active = self.active();
        let sealed = self.sealed().clone();
        (active.head.snapshot(), sealed)
    }

    fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StoreError> {
        let (mut spans, blocks) = {
            let active = self.active();
            let mut spans = active.head.trace(trace_id);
            let sealed = self.sealed();
            for cut in &sealed.cut_heads {
                spans.extend(cut.head.trace(trace_id));
            }
            let blocks: Vec<Arc<Block>> =
                sealed.blocks.iter().filter(|b| b.may_contain(trace_id)).cloned().collect();
            (spans, blocks)
        };
        for block in blocks {
            spans.extend(block.trace(trace_id).map_err(read_failed)?);
        }
        let cutoff = self.deleted_before.load(Ordering::Relaxed);
        spans.retain(|span| span.start_time_unix_nano >= cutoff);
        Ok(spans)
    }

    fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let mut query = query.clone();
        query.start_unix_nano =
            query.start_unix_nano.max(self.deleted_before.load(Ordering::Relaxed));
        let (head, mut sealed) = self.snapshot();
        let mut newest = NewestTraces::new(query.effective_limit());
        for summary in head.search(&query) {
            newest.add(summary);
        }
        for cut in &sealed.cut_heads {
            for summary in cut.head.snapshot().search(&query) {
                newest.add(summary);
            }
        }
        sealed.blocks.sort_by_key(|b| std::cmp::Reverse(b.meta().max_start_unix_nano));
        for block in &sealed.blocks {
            let meta = block.meta();
            if newest.is_full_before(meta.max_start_unix_nano) {
                break;
            }
            if meta.max_start_unix_nano < query.start_unix_nano
                || meta.min_start_unix_nano > query.end_unix_nano
            {
                continue;
            }
            for summary in block.search(&query).map_err(read_failed)? {
                newest.add(summary);
            }
        }
        // A trace's spans may be in several places: summarise each found trace from all of them.
        let found = newest.finish();
        let ids: Vec<TraceId> = found.iter().map(|s| s.trace_id).collect();
        let mut whole: FxHashMap<TraceId, TraceSummary> = FxHashMap::default();
        let mut add = |summary| merge_into(&mut whole, summary);
        head.summaries(&ids).into_iter().for_each(&mut add);
        for cut in &sealed.cut_heads {
            cut.head.snapshot().summaries(&ids).into_iter().for_each(&mut add);
        }
        for block in &sealed.blocks {
            let present: Vec<TraceId> =
                ids.iter().copied().filter(|&id| block.may_contain(id)).collect();
            if !present.is_empty() {
                block.summaries(&present).map_err(read_failed)?.into_iter().for_each(&mut add);
            }
        }
        Ok(found.into_iter().map(|s| whole.remove(&s.trace_id).unwrap_or(s)).collect())
    }

    fn catalog(&self) -> Catalog {
        let active = self.active();
        let mut catalog = active.head.catalog().clone();
        let sealed = self.sealed().clone();
        drop(active);
        for cut in &sealed.cut_heads {
            catalog.merge(cut.head.catalog());
        }
        for block in &sealed.blocks {
            catalog.merge(&block.meta().catalog);
        }
        catalog
    }

    /// Records the deletion cutoff durably, then drops the blocks entirely before it.
    fn delete_before(&self, cutoff_unix_nano: u64) -> Result<(), StoreError> {
        let previous = self.deleted_before.fetch_max(cutoff_unix_nano, Ordering::Relaxed);
        if cutoff_unix_nano <= previous {
            return Ok(());
        }
        self.dir.write_deleted_before(cutoff_unix_nano).map_err(|e| unavailable("write", e))?;
        let expired: Vec<Arc<Block>> = {
            let mut sealed = self.sealed_mut();
            let (expired, kept) = std::mem::take(&mut sealed.blocks)
                .into_iter()
                .partition(|b| b.meta().max_start_unix_nano < cutoff_unix_nano);
            sealed.blocks = kept;
            expired
        };
        self.remove_blocks(expired, "age");
        Ok(())
    }

    fn remove_blocks(&self, blocks: Vec<Arc<Block>>, reason: &'static str) {
        for block in blocks {
            let id = block.id();
            self.counters.blocks_deleted_by_retention.fetch_add(1, Ordering::Relaxed);
            tracing::info!(block = %id, reason, "block deleted by retention");
            // Readers holding the block finish with their own handle; the files go now.
            if let Err(error) = block.remove() {
                tracing::warn!(%error, block = %id, "could not delete block");
            }
        }
    }

    /// One round of retention and compaction; blocking file I/O.
    fn maintain(&self) -> Result<(), StoreError> {
        let _one_at_a_time = self.maintaining.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(max_age) = self.options.retention_max_age {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
            let cutoff = now.saturating_sub(max_age).as_nanos();
            self.delete_before(u64::try_from(cutoff).unwrap_or(u64::MAX))?;
        }
        if let Some(max_bytes) = self.options.retention_max_bytes {
            self.enforce_disk_budget(max_bytes);
        }
        while self.compact_once()? {}
        Ok(())
    }

    fn enforce_disk_budget(&self, max_bytes: u64) {
        let wal_bytes = files::dir_size(&self.dir.wal());
        let expired: Vec<Arc<Block>> = {
            let mut sealed = self.sealed_mut();
            sealed.blocks.sort_by_key(|b| std::cmp::Reverse(b.meta().max_start_unix_nano));
            let mut total = wal_bytes;
            let mut keep = 0;
            for block in &sealed.blocks {
                total = total.saturating_add(block.meta().data_bytes);
                // The newest block always stays: deleting it would leave nothing to show.
                if total > max_bytes && keep > 0 {
                    break;
                }
                keep += 1;
            }
            sealed.blocks.split_off(keep)
        };
        self.remove_blocks(expired, "disk budget");
    }

    /// Merges the oldest run of same-level blocks when it is ready; returns whether it did.
    fn compact_once(&self) -> Result<bool, StoreError> {
        let inputs: Vec<Arc<Block>> = {
            let sealed = self.sealed();
            let mut by_level: FxHashMap<u32, Vec<Arc<Block>>> = FxHashMap::default();
            for block in &sealed.blocks {
                by_level.entry(block.meta().level).or_default().push(Arc::clone(block));
            }
            let mut levels: Vec<_> = by_level.into_iter().collect();
            levels.sort_by_key(|(level, _)| *level);
            levels
                .into_iter()
                .find_map(|(_, blocks)| {
                    ready_run(blocks, self.options.compaction_fan_in, self.options.max_block_spans)
                })
                .unwrap_or_default()
        };
        if inputs.is_empty() {
            return Ok(false);
        }
        let level = inputs.iter().map(|b| b.meta().level).max().unwrap_or(0) + 1;
        let started = Instant::now();
        let refs: Vec<&Block> = inputs.iter().map(Arc::as_ref).collect();
        let output = block::compact(&refs, &self.dir.blocks(), BlockId::generate(), level)
            .map_err(|e| write_failed("compact blocks", e))?;
        let output_spans = output.meta().span_count;
        tracing::info!(
            inputs = inputs.len(),
            level,
            spans = output_spans,
            bytes = output.meta().data_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "blocks compacted"
        );
        {
            let mut sealed = self.sealed_mut();
            sealed.blocks.retain(|b| !inputs.iter().any(|input| Arc::ptr_eq(b, input)));
            sealed.blocks.push(Arc::new(output));
        }
        for input in inputs {
            if let Err(error) = input.remove() {
                tracing::warn!(%error, block = %input.id(), "could not delete compacted block");
            }
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        self.counters.compacted_spans.fetch_add(output_spans, Ordering::Relaxed);
        Ok(true)
    }
}

/// Asks the WAL to close its segment; the applier then cuts the head at exactly that point.
async fn cut_head(shared: &Shared, wal: &Wal<Vec<Span>>) -> Result<(), StoreError> {
    if shared.active().head.is_empty() {
        return Ok(());
    }
    wal.rotate().await.map(drop).map_err(wal_error)
}

/// Writes every cut head into a block, oldest first; stops at the first failure.
async fn flush_cut_heads(
    shared: &Arc<Shared>,
    wal: &Arc<Wal<Vec<Span>>>,
) -> Result<(), StoreError> {
    loop {
        let Some(cut) = shared.sealed().cut_heads.first().cloned() else { return Ok(()) };
        let writer = Arc::clone(shared);
        let wal = Arc::clone(wal);
        let written = blocking(move || writer.flush_cut_head(&cut, &wal)).await?;
        if let Err(error) = written {
            shared.counters.flush_failures.fetch_add(1, Ordering::Relaxed);
            return Err(error);
        }
        shared.counters.flushes.fetch_add(1, Ordering::Relaxed);
    }
}

impl Shared {
    fn flush_cut_head(&self, cut: &Arc<CutHead>, wal: &Wal<Vec<Span>>) -> Result<(), StoreError> {
        let _one_at_a_time = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.sealed().cut_heads.iter().any(|c| Arc::ptr_eq(c, cut)) {
            return Ok(()); // written meanwhile by the other flusher
        }
        let started = Instant::now();
        let spans: Vec<&Span> = cut.head.spans().collect();
        let block = block::write_block_of(&self.dir.blocks(), BlockId::generate(), 0, &spans)
            .map_err(|e| write_failed("write block", e))?;
        tracing::info!(
            block = %block.id(),
            spans = block.meta().span_count,
            bytes = block.meta().data_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "head written as a block"
        );
        {
            let mut sealed = self.sealed_mut();
            sealed.cut_heads.retain(|c| !Arc::ptr_eq(c, cut));
            sealed.blocks.push(Arc::new(block));
        }
        // Replay skips what the checkpoint covers, so a crash before the segments are gone
        // cannot bring these spans back a second time.
        self.dir.write_checkpoint(cut.last_segment).map_err(|e| unavailable("write", e))?;
        if let Err(error) = wal.remove_segments_up_to(cut.last_segment) {
            tracing::warn!(%error, "could not delete flushed wal segments");
        }
        Ok(())
    }
}

async fn flush_loop(shared: Arc<Shared>, wal: Arc<Wal<Vec<Span>>>) {
    let mut failures = 0u32;
    while !shared.stopping.load(Ordering::Relaxed) {
        tokio::select! {
            _ = tokio::time::sleep(FLUSH_TICK) => {}
            _ = shared.wake_flusher.notified() => {}
            _ = shared.stop.notified() => break,
        }
        let result = async {
            if shared.head_is_due() {
                cut_head(&shared, &wal).await?;
            }
            flush_cut_heads(&shared, &wal).await
        }
        .await;
        match result {
            Ok(()) => failures = 0,
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::error!(%error, failures, "could not write a block; retrying");
                let backoff = Duration::from_millis(250u64 << failures.min(6));
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shared.stop.notified() => break,
                }
            }
        }
    }
}

async fn maintenance_loop(shared: Arc<Shared>) {
    let mut ticker = tokio::time::interval(MAINTENANCE_TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !shared.stopping.load(Ordering::Relaxed) {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shared.stop.notified() => break,
        }
        let worker = Arc::clone(&shared);
        match blocking(move || worker.maintain()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) | Err(error) => tracing::error!(%error, "store maintenance failed"),
        }
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn append(&self, spans: Vec<Span>) -> Result<(), StoreError> {
        if spans.is_empty() {
            return Ok(());
        }
        self.shared.check_room()?;
        let record = files::encode_record(&spans);
        self.wal.append(record, spans).await.map_err(wal_error)?;
        if self.shared.active().head.span_count() >= self.shared.options.head_max_spans {
            self.shared.wake_flusher.notify_one();
        }
        Ok(())
    }

    async fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StoreError> {
        let shared = Arc::clone(&self.shared);
        blocking(move || shared.trace(trace_id)).await?
    }

    async fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let shared = Arc::clone(&self.shared);
        let query = query.clone();
        blocking(move || shared.search(&query)).await?
    }

    async fn services(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.shared.catalog().services().map(String::from).collect())
    }

    async fn operations(&self, service: &str) -> Result<Vec<Operation>, StoreError> {
        Ok(self.shared.catalog().operations(service).cloned().collect())
    }

    async fn attribute_keys(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.shared.catalog().attribute_keys().map(String::from).collect())
    }

    async fn attribute_values(&self, key: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        Ok(self.shared.catalog().attribute_values(key).take(limit).map(String::from).collect())
    }

    async fn delete_before(&self, cutoff_unix_nano: u64) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        blocking(move || shared.delete_before(cutoff_unix_nano)).await?
    }

    fn metrics(&self) -> Vec<StoreMetric> {
        let s = self.stats();
        let gauge = |name, help, value| StoreMetric { name, help, is_counter: false, value };
        let counter = |name, help, value| StoreMetric { name, help, is_counter: true, value };
        vec![
            gauge("head_spans", "Spans in the in-memory head", s.head_spans),
            gauge(
                "unflushed_heads",
                "Cut heads waiting to be written as blocks",
                s.unflushed_heads,
            ),
            gauge("blocks", "Blocks on disk", s.blocks),
            gauge("block_spans", "Spans in blocks on disk", s.block_spans),
            gauge("block_bytes", "Bytes of block data files on disk", s.block_bytes),
            counter("flushes", "Heads written as blocks", s.flushes),
            counter(
                "flush_failures",
                "Failed attempts to write a head as a block",
                s.flush_failures,
            ),
            counter("compactions", "Block merges", s.compactions),
            counter("compacted_spans", "Spans written again by block merges", s.compacted_spans),
            counter(
                "blocks_deleted",
                "Blocks deleted by retention (age or disk budget)",
                s.blocks_deleted_by_retention,
            ),
            counter(
                "appends_overloaded",
                "Appends refused because blocks could not be written fast enough",
                s.appends_refused_overloaded,
            ),
            counter("wal_records", "Records made durable in the WAL", s.wal_records),
            counter("wal_bytes", "Bytes made durable in the WAL", s.wal_bytes),
            counter("wal_syncs", "fsync calls of the WAL", s.wal_syncs),
        ]
    }
}

/// Runs blocking file I/O off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Failed(format!("store task failed: {e}")))
}

fn wal_error(error: WalError) -> StoreError {
    match error {
        WalError::Overloaded => StoreError::Overloaded,
        WalError::DiskFull { .. } => StoreError::Unavailable(format!("disk full: {error}")),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn unavailable(action: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("could not {action}: {error}"))
}

fn write_failed(action: &str, error: BlockError) -> StoreError {
    match error {
        BlockError::DiskFull { .. } => StoreError::Unavailable(format!("disk full: {error}")),
        other => StoreError::Unavailable(format!("could not {action}: {other}")),
    }
}

fn read_failed(error: BlockError) -> StoreError {
    StoreError::Failed(format!("could not read a block: {error}"))
}

/// The oldest run of consecutive blocks of one level that is ready to merge: `fan_in` blocks, or
/// fewer (at least two) whose spans fill a block, because the next one would overflow
/// `max_block_spans`. Merging big runs at once keeps the number of times a span is rewritten low:
/// with the defaults, a span is written once from the head and once more by compaction.
fn ready_run(
    mut blocks: Vec<Arc<Block>>,
    fan_in: usize,
    max_block_spans: u64,
) -> Option<Vec<Arc<Block>>> {
    let fan_in = fan_in.max(2);
    blocks.sort_by_key(|b| b.meta().min_start_unix_nano);
    let mut run: Vec<Arc<Block>> = Vec::new();
    let mut spans = 0u64;
    for block in blocks {
        let count = block.meta().span_count;
        if spans + count > max_block_spans {
            if run.len() >= 2 {
                return Some(run);
            }
            run.clear();
            spans = 0;
        }
        spans += count;
        run.push(block);
        if run.len() == fan_in {
            return Some(run);
        }
    }
    None
}
