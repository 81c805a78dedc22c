//! Where receivers hand over decoded spans: the entry of the pipeline that ends in the store.

use std::sync::Arc;

use kiseki_model::Span;
use kiseki_store::Store;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Accepts spans from every receiver, counts them and stores them.
pub struct Ingest {
    store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
}

impl Ingest {
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { store, metrics }
    }

    /// Stores the spans of one request. Only when this returns `Ok` may the receiver acknowledge
    /// the request; errors say whether the client should retry.
    pub async fn accept(
        &self,
        receiver: &'static str,
        format: &'static str,
        wire_bytes: usize,
        spans: Vec<Span>,
    ) -> Result<(), ApiError> {
        let count = spans.len();
        if count > 0 {
            self.store.append(spans).await?;
        }
        self.metrics.accepted(receiver, format, wire_bytes, count);
        Ok(())
    }
}
