//! The head: spans acknowledged since the last block was cut, in memory and searchable at once.
//!
//! Batches are kept as they arrived (shared, immutable chunks), with an index from trace id to
//! the places its spans are. A reader clones the chunk list and searches without holding the
//! lock, so ingest never waits for a long search. When the head is cut it becomes immutable
//! ([`Arc<Head>`]) until its block is published.

use std::collections::HashMap;
use std::sync::Arc;

use kiseki_model::{Resource, Span, TraceId};
use rustc_hash::FxHashMap;

use crate::catalog::Catalog;
use crate::query::{NewestTraces, TraceQuery, TraceSummary};

/// Where one span of a trace is: chunk number and position in it.
type SpanPlace = (u32, u32);

/// Spans in memory, indexed by trace id.
#[derive(Default)]
pub struct Head {
    chunks: Vec<Arc<Vec<Span>>>,
    traces: FxHashMap<TraceId, Vec<SpanPlace>>,
    span_count: usize,
    catalog: Catalog,
}

impl Head {
    /// Adds a batch of acknowledged spans.
    pub fn insert(&mut self, spans: Vec<Span>) {
        if spans.is_empty() {
            return;
        }
        let chunk = u32::try_from(self.chunks.len()).unwrap_or(u32::MAX);
        let mut last_resource: Option<&Arc<Resource>> = None;
        for (position, span) in spans.iter().enumerate() {
            let place = (chunk, u32::try_from(position).unwrap_or(u32::MAX));
            self.traces.entry(span.trace_id).or_default().push(place);
            self.catalog.add_span_only(span);
            // Spans of one batch share their resource: add its attributes once.
            if !last_resource.is_some_and(|last| Arc::ptr_eq(last, &span.resource)) {
                self.catalog.add_resource(&span.resource);
                last_resource = Some(&span.resource);
            }
        }
        self.span_count += spans.len();
        self.chunks.push(Arc::new(spans));
    }

    pub fn span_count(&self) -> usize {
        self.span_count
    }

    pub fn is_empty(&self) -> bool {
        self.span_count == 0
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The spans of one trace held here.
    pub fn trace(&self, trace_id: TraceId) -> Vec<Span> {
        let Some(places) = self.traces.get(&trace_id) else { return Vec::new() };
        places
            .iter()
            .filter_map(|&(chunk, position)| self.span_at(chunk, position))
            .cloned()
            .collect()
    }

    fn span_at(&self, chunk: u32, position: u32) -> Option<&Span> {
        self.chunks.get(chunk as usize)?.get(position as usize)
    }

    /// A copy of the chunk list, to read without holding the head's lock.
    pub fn snapshot(&self) -> HeadSnapshot {
        HeadSnapshot { chunks: self.chunks.clone() }
    }

    /// Every span, in arrival order; for writing the head into a block.
    pub fn spans(&self) -> impl Iterator<Item = &Span> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }
}

/// The spans a head held at one moment.
#[derive(Clone, Default)]
pub struct HeadSnapshot {
    chunks: Vec<Arc<Vec<Span>>>,
}

impl HeadSnapshot {
    fn spans(&self) -> impl Iterator<Item = &Span> {
        self.chunks.iter().flat_map(|chunk| chunk.iter())
    }

    /// Summaries of the newest traces here with a span matching `query`.
    pub fn search(&self, query: &TraceQuery) -> Vec<TraceSummary> {
        let mut by_trace: HashMap<TraceId, (bool, Vec<&Span>)> = HashMap::new();
        for span in self.spans() {
            let (matched, spans) = by_trace.entry(span.trace_id).or_default();
            *matched |= query.matches(span);
            spans.push(span);
        }
        let mut newest = NewestTraces::new(query.effective_limit());
        for (matched, spans) in by_trace.into_values() {
            if matched && let Some(summary) = TraceSummary::of_spans(spans) {
                newest.add(summary);
            }
        }
        newest.finish()
    }

    /// Summaries of the parts of these traces held here.
    pub fn summaries(&self, trace_ids: &[TraceId]) -> Vec<TraceSummary> {
        let mut by_trace: HashMap<TraceId, Vec<&Span>> =
            trace_ids.iter().map(|&id| (id, Vec::new())).collect();
        for span in self.spans() {
            if let Some(spans) = by_trace.get_mut(&span.trace_id) {
                spans.push(span);
            }
        }
        by_trace.into_values().filter_map(TraceSummary::of_spans).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_traces_and_searches_what_it_holds() {
        let mut generator = kiseki_testkit::Generator::new(3);
        let mut head = Head::default();
        let traces: Vec<Vec<Span>> = (0..50).map(|i| generator.trace(1_000 + i * 1_000)).collect();
        for pair in traces.chunks(2) {
            head.insert(pair.concat());
        }
        let total: usize = traces.iter().map(Vec::len).sum();
        assert_eq!(head.span_count(), total);
        for trace in &traces {
            let mut read = head.trace(trace[0].trace_id);
            read.sort_by_key(|s| s.span_id);
            let mut expected = trace.clone();
            expected.sort_by_key(|s| s.span_id);
            assert_eq!(read, expected);
        }
        let snapshot = head.snapshot();
        let query = TraceQuery { limit: 100, ..TraceQuery::default() };
        assert_eq!(snapshot.search(&query).len(), traces.len());
        let ids: Vec<TraceId> = traces.iter().take(3).map(|t| t[0].trace_id).collect();
        let summaries = snapshot.summaries(&ids);
        assert_eq!(summaries.len(), 3);
        assert!(head.catalog().services().count() >= 5);
    }
}
