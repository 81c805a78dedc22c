//! Trace hygiene applied when a trace is read: what Jaeger's and Zipkin's query services do so a
//! trace from any tracer displays as one tree.

use std::collections::{HashMap, HashSet};

use kiseki_model::{Span, SpanId, SpanKind};

/// Gives the server half of a Zipkin shared span its own id.
///
/// Zipkin lets a client and a server report one span id between them. Shown as is, the two halves
/// would be one node. As Zipkin's and Jaeger's query services do, the server half gets a new id,
/// its parent becomes the client half, and children that point at the shared id move under the
/// server half (the side of the call that created them). New ids are derived from the old ones,
/// so the same trace always reads back with the same ids.
pub fn split_shared_span_ids(spans: &mut [Span]) {
    let clients: HashSet<SpanId> =
        spans.iter().filter(|s| s.kind == SpanKind::Client).map(|s| s.span_id).collect();
    let mut taken: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut renamed: HashMap<SpanId, SpanId> = HashMap::new();
    for span in spans.iter_mut() {
        if span.kind != SpanKind::Server || !clients.contains(&span.span_id) {
            continue;
        }
        let shared = span.span_id;
        let fresh = fresh_id(shared, &taken);
        taken.insert(fresh);
        renamed.insert(shared, fresh);
        span.parent_span_id = Some(shared);
        span.span_id = fresh;
    }
    if renamed.is_empty() {
        return;
    }
    for span in spans.iter_mut() {
        if let Some(parent) = span.parent_span_id
            && let Some(&fresh) = renamed.get(&parent)
            && span.span_id != fresh
        {
            span.parent_span_id = Some(fresh);
        }
    }
}

/// A stable id derived from `shared` that no span of the trace uses.
fn fresh_id(shared: SpanId, taken: &HashSet<SpanId>) -> SpanId {
    // SplitMix64 of the shared id: spreads ids apart so a derived id rarely collides.
    let mut candidate = shared.get();
    loop {
        candidate = candidate.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = candidate;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        if let Some(id) = SpanId::new(z)
            && !taken.contains(&id)
        {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use kiseki_model::TraceId;

    use super::*;

    fn span(id: u64, parent: Option<u64>, kind: SpanKind) -> Span {
        let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(id).unwrap());
        span.parent_span_id = parent.and_then(SpanId::new);
        span.kind = kind;
        span
    }

    #[test]
    fn server_half_gets_its_own_id_and_children_follow_it() {
        let mut trace = vec![
            span(1, None, SpanKind::Server),
            span(2, Some(1), SpanKind::Client),
            span(2, Some(1), SpanKind::Server),
            span(3, Some(2), SpanKind::Internal),
        ];
        split_shared_span_ids(&mut trace);
        let server = &trace[2];
        assert_ne!(server.span_id.get(), 2);
        assert_eq!(server.parent_span_id, SpanId::new(2));
        assert_eq!(trace[3].parent_span_id, Some(server.span_id));
        assert_eq!(trace[1].span_id.get(), 2, "client keeps the shared id");
        let ids: HashSet<_> = trace.iter().map(|s| s.span_id).collect();
        assert_eq!(ids.len(), 4);

        let mut again =
            vec![span(2, Some(1), SpanKind::Client), span(2, Some(1), SpanKind::Server)];
        split_shared_span_ids(&mut again);
        assert_eq!(again[1].span_id, server.span_id, "the new id is stable");
    }

    #[test]
    fn traces_without_shared_ids_are_untouched() {
        let mut trace = vec![span(1, None, SpanKind::Server), span(2, Some(1), SpanKind::Client)];
        let before = trace.clone();
        split_shared_span_ids(&mut trace);
        assert_eq!(trace, before);
    }
}
