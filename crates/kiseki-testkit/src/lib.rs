//! Seeded, realistic trace traffic shared by tests, benchmarks and the load generator.
//!
//! Traffic comes from an online shop of about a dozen services ([`topology`]): HTTP and gRPC
//! servers and clients, database and messaging spans with the usual semantic-convention
//! attributes, resources per service instance (version, host, Kubernetes pod), long-tailed
//! latencies and a few percent of failing requests with exception events and stack traces.

pub mod generator;
pub mod topology;

pub use generator::{Generator, describe};

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use kiseki_model::{Span, SpanKind};

    use super::*;

    #[test]
    fn same_seed_same_traffic() {
        let a = Generator::new(7).spans(500, 1_700_000_000_000_000_000);
        let b = Generator::new(7).spans(500, 1_700_000_000_000_000_000);
        assert_eq!(a, b);
        let c = Generator::new(8).spans(500, 1_700_000_000_000_000_000);
        assert_ne!(a, c);
    }

    #[test]
    fn forks_share_the_shop_but_not_the_traffic() {
        let start = 1_700_000_000_000_000_000;
        let original = Generator::new(7);
        let a = original.fork(1).spans(2_000, start);
        assert_eq!(a, Generator::new(7).fork(1).spans(2_000, start), "a fork is seeded");
        let b = original.fork(2).spans(2_000, start);
        let trace_ids =
            |spans: &[Span]| -> HashSet<_> { spans.iter().map(|s| s.trace_id).collect() };
        assert!(trace_ids(&a).is_disjoint(&trace_ids(&b)), "streams draw different traces");
        let pods = |spans: &[Span]| -> HashSet<String> {
            let pod = |s: &Span| s.resource.attributes.get_str("k8s.pod.name").map(String::from);
            spans.iter().filter_map(pod).collect()
        };
        let shop = pods(&Generator::new(7).spans(50_000, start));
        assert!(!pods(&a).is_empty());
        assert!(pods(&a).union(&pods(&b)).all(|pod| shop.contains(pod)), "same instances");
        let other_shop = pods(&Generator::new(8).spans(2_000, start));
        assert!(other_shop.is_disjoint(&shop), "another seed is another shop");
    }

    #[test]
    fn traces_are_well_formed() {
        let mut generator = Generator::new(1);
        for i in 0..200 {
            let trace = generator.trace(1_700_000_000_000_000_000 + i * 1_000_000);
            let ids: HashSet<_> = trace.iter().map(|s| s.span_id).collect();
            assert_eq!(ids.len(), trace.len(), "span ids are unique");
            let roots: Vec<_> = trace.iter().filter(|s| s.is_root()).collect();
            assert_eq!(roots.len(), 1);
            assert_eq!(roots[0].kind, SpanKind::Server);
            for span in &trace {
                assert_eq!(span.trace_id, trace[0].trace_id);
                assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
                assert!(!span.name.is_empty());
                if let Some(parent) = span.parent_span_id {
                    assert!(ids.contains(&parent), "parent of {} is in the trace", span.name);
                }
            }
        }
    }

    #[test]
    fn traffic_looks_like_a_shop() {
        let spans = Generator::new(3).spans(50_000, 1_700_000_000_000_000_000);
        let services: HashSet<_> = spans.iter().map(|s| s.service_name().to_string()).collect();
        assert!(services.len() >= 10, "{services:?}");
        let mut kinds: HashMap<SpanKind, usize> = HashMap::new();
        for span in &spans {
            *kinds.entry(span.kind).or_default() += 1;
        }
        for kind in [
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Internal,
            SpanKind::Producer,
            SpanKind::Consumer,
        ] {
            assert!(kinds.get(&kind).copied().unwrap_or(0) > 0, "no {kind:?} spans");
        }
        let roots: Vec<_> = spans.iter().filter(|s| s.is_root()).collect();
        let failed = roots.iter().filter(|s| s.is_error()).count() as f64 / roots.len() as f64;
        assert!((0.01..=0.05).contains(&failed), "{:.3} of requests failed", failed);
        eprintln!("{} ({failed:.3} of requests failed)", describe(&spans));
        let exceptions = spans.iter().flat_map(|s| &s.events).filter(|e| e.name == "exception");
        assert!(
            exceptions.into_iter().all(|e| e.attributes.get_str("exception.stacktrace").is_some())
        );
        // Durations have a long tail: the slowest 1 % of roots take far longer than the median.
        let mut durations: Vec<u64> = roots.iter().map(|s| s.duration_nanos()).collect();
        durations.sort_unstable();
        let p50 = durations[durations.len() / 2];
        let p99 = durations[durations.len() * 99 / 100];
        assert!(p99 > 3 * p50, "p50 {p50} p99 {p99}");
    }
}
