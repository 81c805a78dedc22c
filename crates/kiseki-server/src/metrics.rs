//! kiseki's own metrics, exposed in the Prometheus (OpenMetrics) text format at `/metrics`.

use std::sync::Arc;

use kiseki_store::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::error::Reason;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FormatLabels {
    receiver: &'static str,
    format: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueryLabels {
    api: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    receiver: &'static str,
    reason: &'static str,
}

/// Counters of what the receivers took in and turned away.
pub struct Metrics {
    registry: Registry,
    requests: Family<FormatLabels, Counter>,
    spans: Family<FormatLabels, Counter>,
    bytes: Family<FormatLabels, Counter>,
    spans_rejected: Family<FormatLabels, Counter>,
    requests_rejected: Family<ReasonLabels, Counter>,
    queries: Family<QueryLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kiseki");
        let requests = Family::default();
        let spans = Family::default();
        let bytes = Family::default();
        let spans_rejected = Family::default();
        let requests_rejected = Family::default();
        let queries = Family::default();
        registry.register(
            "receiver_requests",
            "Requests whose spans were accepted",
            requests.clone(),
        );
        registry.register("receiver_spans", "Spans accepted", spans.clone());
        registry.register(
            "receiver_bytes",
            "Request body bytes received, before decompression",
            bytes.clone(),
        );
        registry.register(
            "receiver_spans_rejected",
            "Spans refused one by one while the rest of their request was accepted",
            spans_rejected.clone(),
        );
        registry.register(
            "receiver_requests_rejected",
            "Requests refused as a whole, by reason",
            requests_rejected.clone(),
        );
        registry.register(
            "query_requests",
            "Requests to the query APIs, by API and status code",
            queries.clone(),
        );
        Self { registry, requests, spans, bytes, spans_rejected, requests_rejected, queries }
    }

    /// Counts a request whose spans were stored.
    pub fn accepted(
        &self,
        receiver: &'static str,
        format: &'static str,
        wire_bytes: usize,
        spans: usize,
    ) {
        let labels = FormatLabels { receiver, format };
        self.requests.get_or_create(&labels).inc();
        self.spans.get_or_create(&labels).inc_by(spans as u64);
        self.bytes.get_or_create(&labels).inc_by(wire_bytes as u64);
    }

    /// Adds the store's own metrics (`kiseki_store_*`), read from it on every scrape.
    pub fn register_store(&mut self, store: Arc<dyn Store>) {
        self.registry.register_collector(Box::new(StoreCollector(store)));
    }

    /// Counts spans refused inside an otherwise accepted request.
    pub fn spans_rejected(&self, receiver: &'static str, format: &'static str, spans: u64) {
        if spans > 0 {
            self.spans_rejected.get_or_create(&FormatLabels { receiver, format }).inc_by(spans);
        }
    }

    /// Counts a request refused as a whole.
    pub fn rejected(&self, receiver: &'static str, reason: Reason) {
        let labels = ReasonLabels { receiver, reason: reason.as_str() };
        self.requests_rejected.get_or_create(&labels).inc();
    }

    /// Counts a query API's answer.
    pub fn query_answered(&self, api: &'static str, status: u16) {
        self.queries.get_or_create(&QueryLabels { api, status }).inc();
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Reads a store's metrics at scrape time.
struct StoreCollector(Arc<dyn Store>);

impl std::fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreCollector")
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for metric in self.0.metrics() {
            let name = format!("store_{}", metric.name);
            if metric.is_counter {
                let encoder =
                    encoder.encode_descriptor(&name, metric.help, None, MetricType::Counter)?;
                ConstCounter::new(metric.value).encode(encoder)?;
            } else {
                let encoder =
                    encoder.encode_descriptor(&name, metric.help, None, MetricType::Gauge)?;
                ConstGauge::new(metric.value as i64).encode(encoder)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_with_their_labels() {
        let metrics = Metrics::new();
        metrics.accepted("otlp_http", "otlp_proto", 1200, 7);
        metrics.rejected("zipkin", Reason::TooLarge);
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"kiseki_receiver_spans_total{receiver="otlp_http",format="otlp_proto"} 7"#
            ),
            "{text}"
        );
        assert!(text.contains(
            r#"kiseki_receiver_bytes_total{receiver="otlp_http",format="otlp_proto"} 1200"#
        ));
        assert!(text.contains(
            r#"kiseki_receiver_requests_rejected_total{receiver="zipkin",reason="too_large"} 1"#
        ));
    }

    #[tokio::test]
    async fn the_store_reports_its_own_numbers_at_scrape_time() {
        let store = Arc::new(kiseki_store::MemoryStore::new(100));
        let mut metrics = Metrics::new();
        metrics.register_store(store.clone());
        store.append(kiseki_testkit::Generator::new(1).spans(10, 1)).await.unwrap();
        let text = metrics.encode();
        let line = text.lines().find(|l| l.starts_with("kiseki_store_memory_spans ")).unwrap();
        assert_ne!(line, "kiseki_store_memory_spans 0", "{text}");
    }
}
