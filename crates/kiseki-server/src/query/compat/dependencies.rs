//! Which services call which: the links behind Jaeger's and Zipkin's `/dependencies` and
//! Zipkin's `/remoteServices`, shared by both APIs.
//!
//! Until a statistics stage keeps a service map from every span, links are **computed from the
//! stored traces of the window**: the newest [`MAX_TRACES_READ`] traces with a span in it are
//! read and their calls counted; remote services come from the newest
//! [`MAX_TRACES_READ_FOR_REMOTE_SERVICES`] traces with a span of the service. In a busy window
//! the counts are those of a sample of recent traffic, not of all of it. In each trace (after
//! shared Zipkin span ids are split, so a client and its server are two spans):
//!
//! - a span whose parent is in the trace and belongs to another service is one call from the
//!   parent's service to the span's; it failed when the span failed or when the parent is a
//!   client or producer span that failed;
//! - a client or producer span with no child in another service called a peer that sends no
//!   spans: one call to its [`remote_peer`] (`peer.service`, or for a client `db.system`,
//!   `messaging.system`, `server.address`), failed when the span failed;
//! - a server or consumer span without a parent in the trace whose `peer.service` names its
//!   caller (Zipkin's remote endpoint) is one call from that caller.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use kiseki_model::{Span, SpanId, SpanKind, semconv};
use kiseki_store::{Store, TraceQuery};

use super::search::fetch_traces;
use crate::error::ApiError;
use crate::query::adjust::split_shared_span_ids;

/// The most traces read to compute the links of one window (the newest ones in it).
pub const MAX_TRACES_READ: usize = 1_000;

/// The most traces read to find the remote services of one service (the newest with a span of
/// it). Zipkin's UI asks for them each time a service is picked, so this stays small.
pub const MAX_TRACES_READ_FOR_REMOTE_SERVICES: usize = 100;

/// Calls from one service to another in a window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DependencyLink {
    /// The caller: a client, or a message producer.
    pub parent: String,
    /// The callee: a server, a message consumer, or a peer that sends no spans.
    pub child: String,
    pub call_count: u64,
    pub error_count: u64,
}

/// The service a span calls, or that calls it, when that service sends no spans of its own.
///
/// `peer.service` (where kiseki keeps Zipkin's remote endpoint name) for any span; for a client
/// or producer span without it, what it reached: `db.system`, `messaging.system`, then
/// `server.address`.
pub fn remote_peer(span: &Span) -> Option<&str> {
    let attribute = |key: &str| span.attributes.get_str(key).filter(|text| !text.is_empty());
    if let Some(peer) = attribute(semconv::PEER_SERVICE) {
        return Some(peer);
    }
    if !matches!(span.kind, SpanKind::Client | SpanKind::Producer) {
        return None;
    }
    attribute(semconv::DB_SYSTEM)
        .or_else(|| attribute(semconv::MESSAGING_SYSTEM))
        .or_else(|| attribute(semconv::SERVER_ADDRESS))
}

/// Counts calls between services, trace by trace.
#[derive(Debug, Default)]
pub struct LinkCounter {
    links: BTreeMap<(String, String), (u64, u64)>,
}

impl LinkCounter {
    /// Counts the calls of one trace, by the rules of the module documentation.
    pub fn add_trace(&mut self, spans: &[Span]) {
        let mut spans = spans.to_vec();
        split_shared_span_ids(&mut spans);
        let mut by_id: HashMap<SpanId, &Span> = HashMap::with_capacity(spans.len());
        for span in &spans {
            by_id.entry(span.span_id).or_insert(span);
        }
        let parent_of = |span: &Span| span.parent_span_id.and_then(|id| by_id.get(&id).copied());
        let mut called_instrumented: HashSet<SpanId> = HashSet::new();
        for span in &spans {
            if let Some(parent) = parent_of(span)
                && parent.service_name() != span.service_name()
            {
                called_instrumented.insert(parent.span_id);
            }
        }
        for span in &spans {
            let service = span.service_name();
            match parent_of(span) {
                Some(parent) if parent.service_name() != service => {
                    let caller_failed =
                        matches!(parent.kind, SpanKind::Client | SpanKind::Producer)
                            && parent.is_error();
                    self.add(parent.service_name(), service, span.is_error() || caller_failed);
                }
                Some(_) => {}
                None => {
                    if matches!(span.kind, SpanKind::Server | SpanKind::Consumer)
                        && let Some(caller) = span.attributes.get_str(semconv::PEER_SERVICE)
                        && !caller.is_empty()
                        && caller != service
                    {
                        self.add(caller, service, span.is_error());
                    }
                }
            }
            if matches!(span.kind, SpanKind::Client | SpanKind::Producer)
                && !called_instrumented.contains(&span.span_id)
                && let Some(peer) = remote_peer(span)
                && peer != service
            {
                self.add(service, peer, span.is_error());
            }
        }
    }

    fn add(&mut self, parent: &str, child: &str, failed: bool) {
        let counts = self.links.entry((parent.to_owned(), child.to_owned())).or_default();
        counts.0 += 1;
        counts.1 += u64::from(failed);
    }

    /// The links counted so far, by parent then child.
    pub fn finish(self) -> Vec<DependencyLink> {
        self.links
            .into_iter()
            .map(|((parent, child), (call_count, error_count))| DependencyLink {
                parent,
                child,
                call_count,
                error_count,
            })
            .collect()
    }
}

/// The links of the newest traces (up to [`MAX_TRACES_READ`]) with a span that starts in the
/// window.
pub(super) async fn links_in_window(
    store: &Arc<dyn Store>,
    start_unix_nano: u64,
    end_unix_nano: u64,
) -> Result<Vec<DependencyLink>, ApiError> {
    let query =
        TraceQuery { start_unix_nano, end_unix_nano, limit: MAX_TRACES_READ, ..Default::default() };
    let mut counter = LinkCounter::default();
    for_each_trace(store, &query, |spans| counter.add_trace(spans)).await?;
    Ok(counter.finish())
}

/// The remote services of `service`'s spans (by [`remote_peer`]) in the newest traces (up to
/// [`MAX_TRACES_READ_FOR_REMOTE_SERVICES`]) with a span of that service in the window, sorted.
pub(super) async fn remote_services(
    store: &Arc<dyn Store>,
    service: &str,
    start_unix_nano: u64,
    end_unix_nano: u64,
) -> Result<Vec<String>, ApiError> {
    let query = TraceQuery {
        service: Some(service.to_owned()),
        start_unix_nano,
        end_unix_nano,
        limit: MAX_TRACES_READ_FOR_REMOTE_SERVICES,
        ..Default::default()
    };
    let mut names = BTreeSet::new();
    for_each_trace(store, &query, |spans| {
        for span in spans.iter().filter(|span| span.service_name() == service) {
            if let Some(peer) = remote_peer(span) {
                names.insert(peer.to_owned());
            }
        }
    })
    .await?;
    Ok(names.into_iter().collect())
}

/// Reads the traces a search finds, a few at a time, so they need not all be in memory at once.
async fn for_each_trace(
    store: &Arc<dyn Store>,
    query: &TraceQuery,
    mut visit: impl FnMut(&[Span]),
) -> Result<(), ApiError> {
    let ids: Vec<_> = store.search(query).await?.into_iter().map(|s| s.trace_id).collect();
    for batch in ids.chunks(64) {
        for spans in fetch_traces(store, batch).await? {
            visit(&spans);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kiseki_model::{Resource, Status, TraceId};

    use super::*;

    struct TraceBuilder {
        spans: Vec<Span>,
    }

    impl TraceBuilder {
        fn new() -> Self {
            Self { spans: Vec::new() }
        }

        fn span(
            &mut self,
            id: u64,
            parent: Option<u64>,
            service: &str,
            kind: SpanKind,
        ) -> &mut Span {
            let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(id).unwrap());
            span.parent_span_id = parent.and_then(SpanId::new);
            span.resource = Arc::new(Resource::for_service(service));
            span.kind = kind;
            self.spans.push(span);
            self.spans.last_mut().unwrap()
        }
    }

    fn links(traces: &[&[Span]]) -> Vec<(String, String, u64, u64)> {
        let mut counter = LinkCounter::default();
        for trace in traces {
            counter.add_trace(trace);
        }
        counter
            .finish()
            .into_iter()
            .map(|l| (l.parent, l.child, l.call_count, l.error_count))
            .collect()
    }

    fn link(parent: &str, child: &str, calls: u64, errors: u64) -> (String, String, u64, u64) {
        (parent.into(), child.into(), calls, errors)
    }

    #[test]
    fn calls_between_instrumented_services_count_once_each() {
        let mut t = TraceBuilder::new();
        t.span(1, None, "frontend", SpanKind::Server);
        t.span(2, Some(1), "frontend", SpanKind::Internal);
        t.span(3, Some(2), "frontend", SpanKind::Client).attributes.push("peer.service", "cart");
        t.span(4, Some(3), "cart", SpanKind::Server).status = Status::error("boom");
        t.span(5, Some(4), "cart", SpanKind::Producer);
        t.span(6, Some(5), "mailer", SpanKind::Consumer);
        // A server calling a server directly (no client span) is a call too.
        t.span(7, Some(1), "payments", SpanKind::Server);
        assert_eq!(
            links(&[&t.spans, &t.spans]),
            [
                link("cart", "mailer", 2, 0),
                link("frontend", "cart", 2, 2),
                link("frontend", "payments", 2, 0)
            ]
        );
    }

    #[test]
    fn clients_of_peers_without_spans_count_as_calls_to_the_peer() {
        let mut t = TraceBuilder::new();
        t.span(1, None, "cart", SpanKind::Server);
        t.span(2, Some(1), "cart", SpanKind::Client).attributes.push("db.system", "postgresql");
        let failed = t.span(3, Some(1), "cart", SpanKind::Client);
        failed.attributes.push("server.address", "api.stripe.com");
        failed.status = Status::error("timeout");
        t.span(4, Some(1), "cart", SpanKind::Producer).attributes.push("messaging.system", "kafka");
        // Internal spans and clients without a peer name are no calls.
        t.span(5, Some(1), "cart", SpanKind::Internal).attributes.push("db.system", "sqlite");
        t.span(6, Some(1), "cart", SpanKind::Client);
        assert_eq!(
            links(&[&t.spans]),
            [
                link("cart", "api.stripe.com", 1, 1),
                link("cart", "kafka", 1, 0),
                link("cart", "postgresql", 1, 0)
            ]
        );
    }

    #[test]
    fn zipkin_shared_spans_and_known_callers_count_once() {
        let mut t = TraceBuilder::new();
        t.span(1, None, "gateway", SpanKind::Server).attributes.push("peer.service", "browser");
        t.span(2, Some(1), "gateway", SpanKind::Client).attributes.push("peer.service", "cart");
        // The server half shares the client's id, as Zipkin allows.
        t.span(2, Some(1), "cart", SpanKind::Server);
        t.span(3, Some(2), "cart", SpanKind::Internal);
        assert_eq!(
            links(&[&t.spans]),
            [link("browser", "gateway", 1, 0), link("gateway", "cart", 1, 0)]
        );
    }

    #[test]
    fn remote_peers_prefer_peer_service() {
        let mut t = TraceBuilder::new();
        let client = t.span(1, None, "a", SpanKind::Client);
        client.attributes.push("server.address", "10.0.0.1");
        client.attributes.push("peer.service", "b");
        assert_eq!(remote_peer(&t.spans[0]), Some("b"));
        let server = t.span(2, None, "a", SpanKind::Server);
        server.attributes.push("db.system", "redis");
        assert_eq!(remote_peer(&t.spans[1]), None, "only clients reach a database");
    }
}
