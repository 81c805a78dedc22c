//! Where spans are kept: the [`Store`] trait every backend implements, and the backends.
//!
//! Receivers append decoded spans; query APIs read traces back. The trait is the only thing the
//! rest of kiseki knows about storage, so backends can be swapped without touching receivers or
//! queries. [`conformance`] holds the tests every backend must pass.

pub mod conformance;
mod memory;

use async_trait::async_trait;
use kiseki_model::{Span, TraceId};

pub use memory::MemoryStore;

/// Why a store could not do what was asked. Receivers turn these into retryable answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store is behind; the client should retry after a while.
    #[error("store is overloaded, retry later")]
    Overloaded,
    /// The store cannot accept data at all right now (e.g. its disk is full).
    #[error("store is unavailable: {0}")]
    Unavailable(String),
}

/// A place to keep spans and read traces back.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Keeps the spans. Returns once they are as safe as this store makes them; only then may a
    /// receiver acknowledge them to the client.
    async fn append(&self, spans: Vec<Span>) -> Result<(), StoreError>;

    /// Every span kept for one trace, in no particular order; empty when the trace is unknown.
    async fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StoreError>;
}
