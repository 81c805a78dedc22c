//! Batches of whole traces from the seeded shop of `kiseki-testkit`, stamped with the wall clock
//! so the data looks live.

use std::time::{SystemTime, UNIX_EPOCH};

use kiseki_model::Span;
use kiseki_testkit::Generator;

/// The spans of one batch and how many whole traces they make.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub spans: Vec<Span>,
    pub traces: usize,
}

/// Fills batches with whole traces, as an SDK's batch processor would export them.
pub struct BatchSource {
    generator: Generator,
    batch_spans: usize,
    /// A trace that did not fit into the last batch; it opens the next one.
    pending: Option<Vec<Span>>,
}

impl BatchSource {
    pub fn new(generator: Generator, batch_spans: usize) -> Self {
        Self { generator, batch_spans: batch_spans.max(1), pending: None }
    }

    /// Whole traces, as many as fit in `batch_spans` spans, and at least one however large.
    pub fn next_batch(&mut self, now_unix_nano: u64) -> Batch {
        let mut batch = Batch { spans: Vec::with_capacity(self.batch_spans), traces: 0 };
        loop {
            let trace = match self.pending.take() {
                Some(trace) => trace,
                None => self.generator.trace(now_unix_nano),
            };
            if batch.traces > 0 && batch.spans.len() + trace.len() > self.batch_spans {
                self.pending = Some(trace);
                break;
            }
            batch.spans.extend(trace);
            batch.traces += 1;
            if batch.spans.len() >= self.batch_spans {
                break;
            }
        }
        batch
    }
}

/// Moves every timestamp of the batch so its last span ends at `now_unix_nano`: a tracer
/// exports a trace once it has ended, so the newest data is as old as the export.
pub fn end_at(spans: &mut [Span], now_unix_nano: u64) {
    let Some(last_end) = spans.iter().map(|s| s.end_time_unix_nano).max() else { return };
    let shift = |t: u64| -> u64 {
        if now_unix_nano >= last_end {
            t.saturating_add(now_unix_nano - last_end)
        } else {
            t.saturating_sub(last_end - now_unix_nano)
        }
    };
    for span in spans {
        span.start_time_unix_nano = shift(span.start_time_unix_nano);
        span.end_time_unix_nano = shift(span.end_time_unix_nano);
        for event in &mut span.events {
            event.time_unix_nano = shift(event.time_unix_nano);
        }
    }
}

/// The wall clock in nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_nanos_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const START: u64 = 1_700_000_000_000_000_000;

    #[test]
    fn batches_hold_whole_traces_up_to_the_size() {
        let mut source = BatchSource::new(Generator::new(2), 100);
        let mut seen = HashMap::new();
        for _ in 0..50 {
            let batch = source.next_batch(START);
            assert!(batch.traces >= 1);
            let mut traces = batch.spans.iter().map(|s| s.trace_id).collect::<Vec<_>>();
            traces.dedup();
            assert_eq!(traces.len(), batch.traces, "a trace's spans are together");
            assert!(batch.spans.len() <= 100 || batch.traces == 1, "{}", batch.spans.len());
            for id in traces {
                assert!(seen.insert(id, ()).is_none(), "a trace is never split between batches");
            }
        }
        // The same seed gives the same traffic, batched or not.
        let mut generator = Generator::new(2);
        let mut source = BatchSource::new(Generator::new(2), 100);
        let batched: Vec<Span> = (0..5).flat_map(|_| source.next_batch(START).spans).collect();
        let plain: Vec<Span> = std::iter::from_fn(|| Some(generator.trace(START)))
            .flatten()
            .take(batched.len())
            .collect();
        assert_eq!(batched, plain);
    }

    #[test]
    fn a_batch_of_one_span_is_one_trace() {
        let mut source = BatchSource::new(Generator::new(2), 1);
        let batch = source.next_batch(START);
        assert_eq!(batch.traces, 1);
        assert_eq!(batch.spans, Generator::new(2).trace(START));
    }

    #[test]
    fn the_batch_ends_now_and_keeps_its_shape() {
        let original = Generator::new(4).spans(200, START);
        for now in [START + 3_600_000_000_000, START - 3_600_000_000_000] {
            let mut spans = original.clone();
            end_at(&mut spans, now);
            assert_eq!(spans.iter().map(|s| s.end_time_unix_nano).max(), Some(now));
            let shift =
                spans[0].start_time_unix_nano.wrapping_sub(original[0].start_time_unix_nano);
            for (moved, was) in spans.iter().zip(&original) {
                assert_eq!(moved.duration_nanos(), was.duration_nanos());
                let delta = moved.start_time_unix_nano.wrapping_sub(was.start_time_unix_nano);
                assert_eq!(delta, shift);
                for (e, f) in moved.events.iter().zip(&was.events) {
                    assert_eq!(e.time_unix_nano.wrapping_sub(f.time_unix_nano), shift);
                }
            }
        }
        end_at(&mut [], START);
    }
}
