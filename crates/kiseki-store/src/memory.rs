//! A store in memory, bounded by a span count: when full, the oldest traces make room.

use std::collections::{HashMap, VecDeque};
use std::sync::RwLock;

use async_trait::async_trait;
use kiseki_model::{Span, TraceId};

use crate::catalog::Catalog;
use crate::query::{NewestTraces, Operation, TraceQuery, TraceSummary};
use crate::{Store, StoreError, StoreMetric};

/// Keeps up to `max_spans` spans; traces are evicted whole, oldest first.
pub struct MemoryStore {
    max_spans: usize,
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    traces: HashMap<TraceId, Vec<Span>>,
    /// Trace ids in the order they first arrived, for eviction.
    arrival: VecDeque<TraceId>,
    span_count: usize,
    catalog: Catalog,
}

impl MemoryStore {
    pub fn new(max_spans: usize) -> Self {
        Self { max_spans: max_spans.max(1), inner: RwLock::new(Inner::default()) }
    }

    /// How many spans are kept now.
    pub fn span_count(&self) -> usize {
        self.inner.read().map(|inner| inner.span_count).unwrap_or(0)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn append(&self, spans: Vec<Span>) -> Result<(), StoreError> {
        let mut inner = self.inner.write().map_err(|_| poisoned())?;
        inner.span_count += spans.len();
        for span in spans {
            inner.catalog.add_span(&span);
            let trace_id = span.trace_id;
            let trace = inner.traces.entry(trace_id).or_default();
            let is_new = trace.is_empty();
            trace.push(span);
            if is_new {
                inner.arrival.push_back(trace_id);
            }
        }
        while inner.span_count > self.max_spans {
            let Some(oldest) = inner.arrival.pop_front() else { break };
            if let Some(evicted) = inner.traces.remove(&oldest) {
                inner.span_count -= evicted.len();
            }
        }
        Ok(())
    }

    async fn trace(&self, trace_id: TraceId) -> Result<Vec<Span>, StoreError> {
        let inner = self.inner.read().map_err(|_| poisoned())?;
        Ok(inner.traces.get(&trace_id).cloned().unwrap_or_default())
    }

    async fn search(&self, query: &TraceQuery) -> Result<Vec<TraceSummary>, StoreError> {
        let inner = self.inner.read().map_err(|_| poisoned())?;
        let mut newest = NewestTraces::new(query.effective_limit());
        for spans in inner.traces.values() {
            if spans.iter().any(|span| query.matches(span))
                && let Some(summary) = TraceSummary::of_spans(spans)
            {
                newest.add(summary);
            }
        }
        Ok(newest.finish())
    }

    async fn services(&self) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.read().map_err(|_| poisoned())?;
        Ok(inner.catalog.services().map(String::from).collect())
    }

    async fn operations(&self, service: &str) -> Result<Vec<Operation>, StoreError> {
        let inner = self.inner.read().map_err(|_| poisoned())?;
        Ok(inner.catalog.operations(service).cloned().collect())
    }

    async fn attribute_keys(&self) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.read().map_err(|_| poisoned())?;
        Ok(inner.catalog.attribute_keys().map(String::from).collect())
    }

    async fn attribute_values(&self, key: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let inner = self.inner.read().map_err(|_| poisoned())?;
        Ok(inner.catalog.attribute_values(key).take(limit).map(String::from).collect())
    }

    async fn delete_before(&self, cutoff_unix_nano: u64) -> Result<(), StoreError> {
        let mut inner = self.inner.write().map_err(|_| poisoned())?;
        let Inner { traces, arrival, span_count, .. } = &mut *inner;
        traces.retain(|_, spans| {
            let before = spans.len();
            spans.retain(|span| span.start_time_unix_nano >= cutoff_unix_nano);
            *span_count -= before - spans.len();
            !spans.is_empty()
        });
        arrival.retain(|id| traces.contains_key(id));
        Ok(())
    }

    fn metrics(&self) -> Vec<StoreMetric> {
        vec![StoreMetric {
            name: "memory_spans",
            help: "Spans kept in the memory store",
            is_counter: false,
            value: self.span_count() as u64,
        }]
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("memory store lock poisoned by a panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::conformance_tests!(MemoryStore::new(1_000_000));

    #[tokio::test]
    async fn evicts_oldest_traces_when_full() {
        let store = MemoryStore::new(100);
        let mut generator = kiseki_testkit::Generator::new(5);
        let first = generator.trace(1_000);
        let first_id = first[0].trace_id;
        store.append(first).await.unwrap();
        for i in 0..20 {
            store.append(generator.trace(2_000 + i)).await.unwrap();
        }
        assert!(store.span_count() <= 100);
        assert!(store.trace(first_id).await.unwrap().is_empty());
    }
}
