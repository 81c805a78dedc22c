//! Where spans are kept: the [`Store`] trait every backend implements, and the backends.
//!
//! Receivers append decoded spans; query APIs read traces back. The trait is the only thing the
//! rest of kiseki knows about storage, so backends can be swapped without touching receivers or
//! queries. [`conformance`] holds the tests every backend must pass.

pub mod catalog;
pub mod conformance;
pub mod embedded;
mod memory;
pub mod query;

use async_trait::async_trait;
use kiseki_model::{Span, TraceId};

pub use memory::MemoryStore;
pub use query::{AttributeFilter, Operation, TraceQuery, TraceSummary};

/// Why a store could not do what was asked. Receivers turn these into retryable answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store is behind; the client should retry after a while.
    #[error("store is overloaded, retry later")]
    Overloaded,
    /// The store cannot accept data at all right now (e.g. its disk is full).
    #[error("store is unavailable: {0}")]
    Unavailable(String),
    /// Reading failed in a way retrying will not fix (e.g. a damaged block).
    #[error("store failed: {0}")]
    Failed(String),
}

/// A place to keep spans and read traces back.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Keeps the spans. Returns once they are as safe as this store makes them; only then may a
    /// receiver acknowledge them to the client.
    async fn append(&self, spans: Vec<Span>) -> Result<(), StoreError>;

    /// Every span kept for one trace, in no particular order; empty when the trace is unknown.
    async fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StoreError>;

    /// Summaries of the newest traces with a span that matches `query`, newest first.
    async fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError>;

    /// Every service name with spans in the store, sorted.
    async fn services(&self) -> Result<Vec<String>, StoreError>;

    /// The operations (span name and kind) of one service, sorted.
    async fn operations(&self, service: &str) -> Result<Vec<Operation>, StoreError>;

    /// Attribute keys seen on spans and resources, sorted, for autocompletion.
    async fn attribute_keys(&self) -> Result<Vec<String>, StoreError>;

    /// Up to `limit` values seen for one attribute key, sorted, for autocompletion.
    async fn attribute_values(&self, key: &str, limit: usize) -> Result<Vec<String>, StoreError>;

    /// Forgets spans that started before `cutoff_unix_nano`: from then on no read returns them,
    /// and their space is given back as the store's layout allows.
    async fn delete_before(&self, cutoff_unix_nano: u64) -> Result<(), StoreError>;

    /// The store's own counters and gauges, read on every scrape of `/metrics`.
    fn metrics(&self) -> Vec<StoreMetric> {
        Vec::new()
    }
}

/// One number a store reports about itself, exposed as `kiseki_store_<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreMetric {
    pub name: &'static str,
    pub help: &'static str,
    /// A counter only grows; a gauge is a current value.
    pub is_counter: bool,
    pub value: u64,
}
