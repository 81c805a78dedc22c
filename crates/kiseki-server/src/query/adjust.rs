//! Trace hygiene applied when a trace is read: what Jaeger's and Zipkin's query services do so a
//! trace from any tracer displays as one tree. Every change is reported as an [`Adjustment`], so a
//! reader can see what was corrected, and what could not be corrected is reported as a warning.
//!
//! Nothing here changes what is stored; the raw trace stays as it was received.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

use kiseki_model::{AnyValue, Resource, Span, SpanId, SpanKind, semconv};

/// Resource attribute naming the host, preferred over `host.ip` and `host.name`.
const HOST_ID: &str = "host.id";

/// At most this many warnings of one kind are written out; the rest are counted.
const WARNINGS_PER_KIND: usize = 10;

/// One change trace hygiene made to one span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// The span's id after the change.
    pub span_id: SpanId,
    pub kind: AdjustmentKind,
    /// How far the span was moved in time, later when positive; `None` when it was not moved.
    pub shift_nanos: Option<i64>,
    /// What was changed and why, for a person reading the trace.
    pub message: String,
}

/// The kinds of change trace hygiene makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdjustmentKind {
    /// The server half of a Zipkin shared span got its own id.
    SharedSpanId,
    /// The span and its subtree were moved in time to sit inside their parent.
    ClockSkew,
    /// Identical copies of the span (an export sent twice) are shown once.
    DuplicateSpan,
}

impl AdjustmentKind {
    /// `shared_span_id`, `clock_skew` or `duplicate_span`, as the native API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentKind::SharedSpanId => "shared_span_id",
            AdjustmentKind::ClockSkew => "clock_skew",
            AdjustmentKind::DuplicateSpan => "duplicate_span",
        }
    }
}

/// Makes a trace displayable as one tree, and says what it changed.
///
/// In order: identical copies of a span are kept once, the server halves of Zipkin shared spans
/// get their own ids ([`split_shared_span_ids`]), then clock skew between services is corrected
/// ([`correct_clock_skew`]). Every span keeps its duration. Call [`trace_warnings`] afterwards
/// for what could not be corrected.
pub fn adjust_trace(spans: &mut Vec<Span>) -> Vec<Adjustment> {
    let mut adjustments = remove_identical_copies(spans);
    adjustments.extend(split_shared_span_ids(spans));
    adjustments.extend(correct_clock_skew(spans));
    adjustments
}

/// Keeps one of each set of identical spans (same id, same content): a tracer that retried an
/// export, or a span received on two ports, is shown once. Spans that share an id but differ are
/// all kept.
fn remove_identical_copies(spans: &mut Vec<Span>) -> Vec<Adjustment> {
    let mut kept_by_id: HashMap<SpanId, Vec<usize>> = HashMap::with_capacity(spans.len());
    let mut keep = vec![true; spans.len()];
    let mut removed: HashMap<SpanId, usize> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        let kept = kept_by_id.entry(span.span_id).or_default();
        if kept.iter().any(|&k| spans[k] == *span) {
            keep[i] = false;
            *removed.entry(span.span_id).or_default() += 1;
        } else {
            kept.push(i);
        }
    }
    if removed.is_empty() {
        return Vec::new();
    }
    let mut index = 0;
    spans.retain(|_| {
        index += 1;
        keep[index - 1]
    });
    let mut adjustments: Vec<Adjustment> = removed
        .into_iter()
        .map(|(span_id, copies)| Adjustment {
            span_id,
            kind: AdjustmentKind::DuplicateSpan,
            shift_nanos: None,
            message: format!(
                "the span was stored {} times with the same content; it is shown once",
                copies + 1
            ),
        })
        .collect();
    adjustments.sort_by_key(|a| a.span_id);
    adjustments
}

/// Gives the server half of a Zipkin shared span its own id.
///
/// Zipkin lets a client and a server report one span id between them. Shown as is, the two halves
/// would be one node. As Zipkin's and Jaeger's query services do, the server half gets a new id,
/// its parent becomes the client half, and children that point at the shared id move under the
/// server half (the side of the call that created them). New ids are derived from the old ones,
/// so the same trace always reads back with the same ids. One [`Adjustment`] per renamed span.
pub fn split_shared_span_ids(spans: &mut [Span]) -> Vec<Adjustment> {
    let clients: HashSet<SpanId> =
        spans.iter().filter(|s| s.kind == SpanKind::Client).map(|s| s.span_id).collect();
    let mut taken: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut renamed: HashMap<SpanId, SpanId> = HashMap::new();
    let mut adjustments = Vec::new();
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
        adjustments.push(Adjustment {
            span_id: fresh,
            kind: AdjustmentKind::SharedSpanId,
            shift_nanos: None,
            message: format!(
                "client and server reported the same span id {shared}; the server half is \
                 shown as {fresh}, a child of the client half"
            ),
        });
    }
    if renamed.is_empty() {
        return adjustments;
    }
    for span in spans.iter_mut() {
        if let Some(parent) = span.parent_span_id
            && let Some(&fresh) = renamed.get(&parent)
            && span.span_id != fresh
        {
            span.parent_span_id = Some(fresh);
        }
    }
    adjustments
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

/// Moves spans whose clock disagrees with their parent's so that they sit inside the parent, as
/// Jaeger's query service does, and reports one [`Adjustment`] per moved span.
///
/// A child is compared with its (already corrected) parent only when the two run on different
/// clocks: different services, and not on the same known host (`host.id`, `host.ip` or
/// `host.name` of their resources). A child that starts before its parent or ends after it is
/// moved so that it sits in the middle of the parent, the network time split evenly between
/// request and response; a child longer than its parent, or one that consumes a message its
/// parent produced (a consumer span, or the child of a producer span), legitimately outlives the
/// parent, so it is only moved when it starts before the parent, to start with it. Spans on the
/// same clock as their parent move with it, so a subtree moves once, as a whole. Spans that share
/// an id with an earlier one, and spans whose parents form a cycle, never loop: each span is
/// visited once.
pub fn correct_clock_skew(spans: &mut [Span]) -> Vec<Adjustment> {
    let tree = SpanTree::new(spans);
    // The shift of each span, and the span where that shift was worked out.
    let mut shifts: Vec<(i64, usize)> = vec![(0, 0); spans.len()];
    let mut adjustments = Vec::new();
    for &(i, reached_from) in &tree.order {
        let (wanted, origin, reason) = match reached_from {
            Some(parent) if !same_clock(&spans[i], &spans[parent]) => {
                match skew(&spans[i], &spans[parent]) {
                    Some((nanos, reason)) => (nanos, i, Some(reason)),
                    None => (0, i, None),
                }
            }
            Some(parent) => (shifts[parent].0, shifts[parent].1, None),
            None => (0, i, None),
        };
        shifts[i] = (wanted, origin);
        if wanted == 0 {
            continue;
        }
        let applied = move_span(&mut spans[i], wanted);
        if applied == 0 {
            continue;
        }
        let moved = SignedNanos(applied);
        let message = match reason {
            Some(reason) => {
                format!("clock skew: {reason}; moved {moved} so that it sits inside its parent")
            }
            None => {
                format!("moved {moved} with span {}, whose clock it shares", spans[origin].span_id)
            }
        };
        adjustments.push(Adjustment {
            span_id: spans[i].span_id,
            kind: AdjustmentKind::ClockSkew,
            shift_nanos: Some(applied),
            message,
        });
    }
    adjustments
}

/// Whether two spans read time from the same clock: the same service, or the same known host.
fn same_clock(a: &Span, b: &Span) -> bool {
    if a.service_name() == b.service_name() {
        return true;
    }
    matches!((host_of(&a.resource), host_of(&b.resource)), (Some(x), Some(y)) if x == y)
}

/// The host a resource runs on, when it says: `host.id`, else `host.ip`, else `host.name`.
fn host_of(resource: &Resource) -> Option<&str> {
    let attributes = &resource.attributes;
    let text = |key: &str| match attributes.get(key)? {
        AnyValue::Str(s) if !s.is_empty() => Some(s.as_str()),
        AnyValue::Array(items) => items.first().and_then(AnyValue::as_str),
        _ => None,
    };
    text(HOST_ID).or_else(|| text(semconv::HOST_IP)).or_else(|| text(semconv::HOST_NAME))
}

/// How far `child` must move to sit inside `parent`, and why; `None` when it need not move.
fn skew(child: &Span, parent: &Span) -> Option<(i64, String)> {
    let (parent_start, parent_end) = bounds(parent);
    let (child_start, child_end) = bounds(child);
    let parent_duration = parent_end - parent_start;
    let child_duration = child_end - child_start;
    let outlives_parent = child.kind == SpanKind::Consumer
        || parent.kind == SpanKind::Producer
        || child_duration > parent_duration;
    let shift = if outlives_parent {
        if child_start >= parent_start {
            return None;
        }
        parent_start - child_start
    } else {
        if child_start >= parent_start && child_end <= parent_end {
            return None;
        }
        parent_start + (parent_duration - child_duration) / 2 - child_start
    };
    let shift = i64::try_from(shift).unwrap_or(if shift < 0 { i64::MIN } else { i64::MAX });
    if shift == 0 {
        return None;
    }
    let reason = if child_start < parent_start {
        format!("started {} before", Nanos(parent_start - child_start))
    } else {
        format!("ended {} after", Nanos(child_end - parent_end))
    };
    let reason =
        format!("{reason} its parent {} of service {:?}", parent.span_id, parent.service_name());
    Some((shift, reason))
}

/// A span's start and end as signed numbers; an end before the start counts as the start.
fn bounds(span: &Span) -> (i128, i128) {
    let start = i128::from(span.start_time_unix_nano);
    (start, i128::from(span.end_time_unix_nano).max(start))
}

/// Moves a span and its events by `nanos`, as far as the clock's range allows; returns how far it
/// moved. The span keeps its duration.
fn move_span(span: &mut Span, nanos: i64) -> i64 {
    let (start, end) = (span.start_time_unix_nano, span.end_time_unix_nano);
    let lowest = -i128::from(start.min(end));
    let highest = i128::from(u64::MAX - start.max(end));
    let applied = i128::from(nanos).clamp(lowest, highest);
    let moved = |time: u64| -> u64 {
        // Within 0..=u64::MAX by the clamps, so the conversion cannot fail.
        u64::try_from((i128::from(time) + applied).clamp(0, i128::from(u64::MAX))).unwrap_or(time)
    };
    span.start_time_unix_nano = moved(start);
    span.end_time_unix_nano = moved(end);
    for event in &mut span.events {
        event.time_unix_nano = moved(event.time_unix_nano);
    }
    // |applied| <= |nanos|, so it fits.
    i64::try_from(applied).unwrap_or(0)
}

/// What could not be corrected in a trace, for a person reading it: spans whose parent is not in
/// the trace, ids used by different spans, parent references that form a cycle, spans that end
/// before they start. Call after [`adjust_trace`]. At most a few warnings of each kind are
/// written out; the rest are counted in one more.
pub fn trace_warnings(spans: &[Span]) -> Vec<String> {
    let tree = SpanTree::new(spans);
    let mut warnings = Warnings::default();
    let mut copies: HashMap<SpanId, usize> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        if !tree.first_with_id[i] {
            *copies.entry(span.span_id).or_default() += 1;
            continue;
        }
        if let Some(parent) = span.parent_span_id {
            if parent == span.span_id {
                warnings.add("self_parent", format!("span {parent} names itself as its parent"));
            } else if tree.parent[i].is_none() {
                warnings.add(
                    "missing_parent",
                    format!("span {} has a parent {parent} that is not in the trace", span.span_id),
                );
            }
        }
        if span.end_time_unix_nano < span.start_time_unix_nano {
            warnings
                .add("end_before_start", format!("span {} ends before it starts", span.span_id));
        }
    }
    let mut copies: Vec<(SpanId, usize)> = copies.into_iter().collect();
    copies.sort();
    for (id, extra) in copies {
        warnings
            .add("duplicate_id", format!("span id {id} is used by {} different spans", extra + 1));
    }
    for &start in &tree.cycle_starts {
        let span = &spans[start];
        if span.parent_span_id != Some(span.span_id) {
            warnings.add(
                "cycle",
                format!(
                    "span {} is its own ancestor: its parent references form a cycle",
                    span.span_id
                ),
            );
        }
    }
    warnings.finish()
}

/// Warnings in the order they were found, at most [`WARNINGS_PER_KIND`] written out per kind.
#[derive(Default)]
struct Warnings {
    written: Vec<String>,
    per_kind: Vec<(&'static str, usize)>,
}

impl Warnings {
    fn add(&mut self, kind: &'static str, message: String) {
        let index = match self.per_kind.iter().position(|(k, _)| *k == kind) {
            Some(index) => index,
            None => {
                self.per_kind.push((kind, 0));
                self.per_kind.len() - 1
            }
        };
        self.per_kind[index].1 += 1;
        if self.per_kind[index].1 <= WARNINGS_PER_KIND {
            self.written.push(message);
        }
    }

    fn finish(mut self) -> Vec<String> {
        for (kind, count) in self.per_kind {
            if count > WARNINGS_PER_KIND {
                let more = count - WARNINGS_PER_KIND;
                self.written.push(format!("{more} more warnings like these ({kind})"));
            }
        }
        self.written
    }
}

/// Puts spans in the order a waterfall shows them: by start, a parent before its children when
/// they start at the same time, then by id.
pub fn sort_for_display(spans: &mut Vec<Span>) {
    let tree = SpanTree::new(spans);
    let mut depth = vec![0usize; spans.len()];
    for &(i, reached_from) in &tree.order {
        depth[i] = reached_from.map_or(0, |parent| depth[parent] + 1);
    }
    for i in 0..spans.len() {
        if !tree.first_with_id[i] {
            depth[i] = tree.position(spans[i].span_id).map_or(0, |first| depth[first]);
        }
    }
    let mut keyed: Vec<((u64, usize, SpanId), Span)> = spans
        .drain(..)
        .zip(depth)
        .map(|(span, depth)| ((span.start_time_unix_nano, depth, span.span_id), span))
        .collect();
    keyed.sort_by_key(|(key, _)| *key);
    spans.extend(keyed.into_iter().map(|(_, span)| span));
}

/// The parent/child structure of a trace, by position in its span list. Only the first span with
/// each id takes part; a span whose parent is missing, or itself, is a root.
struct SpanTree {
    position: HashMap<SpanId, usize>,
    first_with_id: Vec<bool>,
    /// The position of each span's parent, when the parent is in the trace.
    parent: Vec<Option<usize>>,
    /// Every span that takes part, each once, parents before children: (position, the parent it
    /// was reached from, `None` where a walk started).
    order: Vec<(usize, Option<usize>)>,
    /// Spans where a walk had to start although they have a parent: their parents form a cycle.
    cycle_starts: Vec<usize>,
}

impl SpanTree {
    fn new(spans: &[Span]) -> Self {
        let n = spans.len();
        let mut position: HashMap<SpanId, usize> = HashMap::with_capacity(n);
        let mut first_with_id = vec![false; n];
        for (i, span) in spans.iter().enumerate() {
            if let std::collections::hash_map::Entry::Vacant(slot) = position.entry(span.span_id) {
                slot.insert(i);
                first_with_id[i] = true;
            }
        }
        let mut parent = vec![None; n];
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut roots = Vec::new();
        for (i, span) in spans.iter().enumerate().filter(|(i, _)| first_with_id[*i]) {
            match span.parent_span_id.and_then(|p| position.get(&p).copied()) {
                Some(p) if p != i => {
                    parent[i] = Some(p);
                    children[p].push(i);
                }
                _ => roots.push(i),
            }
        }
        let mut tree = Self {
            position,
            first_with_id,
            parent,
            order: Vec::with_capacity(n),
            cycle_starts: Vec::new(),
        };
        let mut visited = vec![false; n];
        let mut stack: Vec<(usize, Option<usize>)> = Vec::new();
        let starts = roots.into_iter().map(|r| (r, false)).chain((0..n).map(|i| (i, true)));
        for (start, breaks_cycle) in starts {
            if visited[start] || !tree.first_with_id[start] {
                continue;
            }
            if breaks_cycle {
                tree.cycle_starts.push(start);
            }
            stack.push((start, None));
            while let Some((i, reached_from)) = stack.pop() {
                if visited[i] {
                    continue;
                }
                visited[i] = true;
                tree.order.push((i, reached_from));
                stack.extend(
                    children[i].iter().rev().filter(|&&c| !visited[c]).map(|&c| (c, Some(i))),
                );
            }
        }
        tree
    }

    fn position(&self, id: SpanId) -> Option<usize> {
        self.position.get(&id).copied()
    }
}

/// Nanoseconds written as a duration (`1.5ms`).
struct Nanos(i128);

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = u64::try_from(self.0.unsigned_abs()).unwrap_or(u64::MAX);
        write!(f, "{:?}", Duration::from_nanos(nanos))
    }
}

/// A shift written with its direction: `+1.5ms` (later) or `-1.5ms` (earlier).
struct SignedNanos(i64);

impl fmt::Display for SignedNanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { '-' } else { '+' };
        write!(f, "{sign}{}", Nanos(i128::from(self.0)))
    }
}
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kiseki_model::{Attributes, Event, TraceId};
    use proptest::prelude::*;

    use super::*;

    fn span(id: u64, parent: Option<u64>, kind: SpanKind) -> Span {
        let mut span = Span::new(TraceId::new(1).unwrap(), SpanId::new(id).unwrap());
        span.parent_span_id = parent.and_then(SpanId::new);
        span.kind = kind;
        span
    }

    /// A span of `service` from `start` to `end`.
    fn timed(id: u64, parent: Option<u64>, service: &str, start: u64, end: u64) -> Span {
        let mut span = span(id, parent, SpanKind::Internal);
        span.resource = Arc::new(Resource::for_service(service));
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = end;
        span
    }

    fn on_host(mut span: Span, host: &str) -> Span {
        let mut resource = (*span.resource).clone();
        resource.attributes.push(semconv::HOST_NAME, host);
        span.resource = Arc::new(resource);
        span
    }

    fn times(spans: &[Span], id: u64) -> (u64, u64) {
        let span = spans.iter().find(|s| s.span_id.get() == id).unwrap();
        (span.start_time_unix_nano, span.end_time_unix_nano)
    }

    fn shifts(adjustments: &[Adjustment]) -> Vec<(u64, i64)> {
        adjustments
            .iter()
            .filter(|a| a.kind == AdjustmentKind::ClockSkew)
            .map(|a| (a.span_id.get(), a.shift_nanos.unwrap()))
            .collect()
    }

    #[test]
    fn server_half_gets_its_own_id_and_children_follow_it() {
        let mut trace = vec![
            span(1, None, SpanKind::Server),
            span(2, Some(1), SpanKind::Client),
            span(2, Some(1), SpanKind::Server),
            span(3, Some(2), SpanKind::Internal),
        ];
        let adjustments = split_shared_span_ids(&mut trace);
        let server = &trace[2];
        assert_ne!(server.span_id.get(), 2);
        assert_eq!(server.parent_span_id, SpanId::new(2));
        assert_eq!(trace[3].parent_span_id, Some(server.span_id));
        assert_eq!(trace[1].span_id.get(), 2, "client keeps the shared id");
        let ids: HashSet<_> = trace.iter().map(|s| s.span_id).collect();
        assert_eq!(ids.len(), 4);
        assert_eq!(adjustments.len(), 1);
        assert_eq!(adjustments[0].span_id, server.span_id);
        assert_eq!(adjustments[0].kind, AdjustmentKind::SharedSpanId);
        assert_eq!(adjustments[0].shift_nanos, None);
        assert!(adjustments[0].message.contains("0000000000000002"), "{}", adjustments[0].message);

        let mut again =
            vec![span(2, Some(1), SpanKind::Client), span(2, Some(1), SpanKind::Server)];
        split_shared_span_ids(&mut again);
        assert_eq!(again[1].span_id, server.span_id, "the new id is stable");
    }

    #[test]
    fn traces_without_shared_ids_are_untouched() {
        let mut trace = vec![span(1, None, SpanKind::Server), span(2, Some(1), SpanKind::Client)];
        let before = trace.clone();
        assert!(adjust_trace(&mut trace).is_empty());
        assert_eq!(trace, before);
    }

    #[test]
    fn a_skewed_child_is_centred_in_its_parent() {
        // The child (200 ns) claims to start 500 ns before its 1000 ns parent.
        let mut trace = vec![timed(1, None, "a", 1000, 2000), timed(2, Some(1), "b", 500, 700)];
        let adjustments = adjust_trace(&mut trace);
        assert_eq!(times(&trace, 2), (1400, 1600), "(1000 - 200) / 2 after the parent's start");
        assert_eq!(shifts(&adjustments), [(2, 900)]);
        let message = &adjustments[0].message;
        assert!(message.contains("started 500ns before its parent"), "{message}");
        assert!(message.contains("+900ns"), "{message}");
        assert_eq!(times(&trace, 1), (1000, 2000), "the parent stays");

        let mut trace = vec![timed(1, None, "a", 1000, 2000), timed(2, Some(1), "b", 1900, 2100)];
        let adjustments = adjust_trace(&mut trace);
        assert_eq!(times(&trace, 2), (1400, 1600));
        assert_eq!(shifts(&adjustments), [(2, -500)]);
        assert!(adjustments[0].message.contains("ended 100ns after"), "{}", adjustments[0].message);
    }

    #[test]
    fn a_child_that_fits_is_left_alone() {
        let mut trace = vec![timed(1, None, "a", 1000, 2000), timed(2, Some(1), "b", 1000, 2000)];
        assert!(adjust_trace(&mut trace).is_empty());
        assert_eq!(times(&trace, 2), (1000, 2000));
    }

    #[test]
    fn a_child_longer_than_its_parent_only_stops_starting_before_it() {
        let mut trace = vec![timed(1, None, "a", 1000, 2000), timed(2, Some(1), "b", 500, 2500)];
        let adjustments = adjust_trace(&mut trace);
        assert_eq!(times(&trace, 2), (1000, 3000), "starts aligned");
        assert_eq!(shifts(&adjustments), [(2, 500)]);
        // Starting inside and outliving the parent is what asynchronous work does.
        let mut trace = vec![timed(1, None, "a", 1000, 2000), timed(2, Some(1), "b", 1500, 3500)];
        assert!(adjust_trace(&mut trace).is_empty());
    }

    #[test]
    fn a_consumer_may_start_after_its_producer_ends_but_not_before_it_starts() {
        let mut producer = timed(1, None, "shop", 1000, 1100);
        producer.kind = SpanKind::Producer;
        let mut consumer = timed(2, Some(1), "worker", 5000, 5100);
        consumer.kind = SpanKind::Consumer;
        let mut trace = vec![producer.clone(), consumer.clone()];
        assert!(adjust_trace(&mut trace).is_empty());
        consumer.start_time_unix_nano = 900;
        consumer.end_time_unix_nano = 950;
        let mut trace = vec![producer, consumer];
        let adjustments = adjust_trace(&mut trace);
        assert_eq!(times(&trace, 2), (1000, 1050));
        assert_eq!(shifts(&adjustments), [(2, 100)]);
    }

    #[test]
    fn a_skewed_subtree_moves_once_as_a_whole() {
        // `b` runs 10 µs ahead. Its server span (2) has a child on its own clock (3), a child on
        // the same host (4, service `b-sidecar`), and a child of another host (5) whose clock
        // agrees with `a`'s, so it already sits inside (2) once (2) has moved.
        let trace = || {
            vec![
                timed(1, None, "a", 1_000, 2_000),
                on_host(timed(2, Some(1), "b", 11_100, 11_900), "node-b"),
                on_host(timed(3, Some(2), "b", 11_200, 11_300), "node-b"),
                on_host(timed(4, Some(3), "b-sidecar", 11_210, 11_220), "node-b"),
                on_host(timed(5, Some(2), "c", 1_400, 1_500), "node-c"),
            ]
        };
        let mut spans = trace();
        let adjustments = adjust_trace(&mut spans);
        assert_eq!(times(&spans, 2), (1_100, 1_900), "centred: (1000 - 800) / 2 after 1000");
        assert_eq!(times(&spans, 3), (1_200, 1_300), "moved with its parent, once");
        assert_eq!(times(&spans, 4), (1_210, 1_220), "same host, same clock");
        assert_eq!(times(&spans, 5), (1_400, 1_500), "inside its moved parent already");
        assert_eq!(shifts(&adjustments), [(2, -10_000), (3, -10_000), (4, -10_000)]);
        assert!(adjustments[1].message.contains("with span 0000000000000002"));
        // The order spans come in does not change the outcome.
        let mut reversed = trace();
        reversed.reverse();
        adjust_trace(&mut reversed);
        for id in 1..=5 {
            assert_eq!(times(&reversed, id), times(&spans, id), "span {id}");
        }
    }

    #[test]
    fn spans_of_one_service_or_one_host_are_never_moved_against_each_other() {
        let mut trace = vec![timed(1, None, "a", 1000, 2000), timed(2, Some(1), "a", 500, 700)];
        assert!(adjust_trace(&mut trace).is_empty());
        assert_eq!(times(&trace, 2), (500, 700));
        let mut trace = vec![
            on_host(timed(1, None, "a", 1000, 2000), "node-1"),
            on_host(timed(2, Some(1), "b", 500, 700), "node-1"),
        ];
        assert!(adjust_trace(&mut trace).is_empty());
    }

    #[test]
    fn events_move_with_their_span() {
        let mut child = timed(2, Some(1), "b", 500, 700);
        child.events.push(Event {
            time_unix_nano: 600,
            name: "retry".into(),
            attributes: Attributes::new(),
            dropped_attributes_count: 0,
        });
        let mut trace = vec![timed(1, None, "a", 1000, 2000), child];
        adjust_trace(&mut trace);
        assert_eq!(trace[1].events[0].time_unix_nano, 1500);
    }

    #[test]
    fn cycles_missing_parents_and_reused_ids_end_with_warnings() {
        let mut trace = vec![
            timed(1, Some(2), "a", 0, 10),
            timed(2, Some(1), "b", 5_000, 5_010),
            timed(3, Some(3), "c", 100, 200),
            timed(4, Some(99), "d", 100, 200),
            timed(5, Some(4), "e", 0, 50),
            timed(5, Some(4), "f", 7, 8),
            timed(6, Some(5), "g", 300, 100),
        ];
        let adjustments = adjust_trace(&mut trace);
        let warnings = trace_warnings(&trace);
        let all = warnings.join("\n");
        assert!(all.contains("is its own ancestor"), "{all}");
        assert!(all.contains("span 0000000000000003 names itself as its parent"), "{all}");
        assert!(all.contains("has a parent 0000000000000063 that is not in the trace"), "{all}");
        assert!(all.contains("span id 0000000000000005 is used by 2 different spans"), "{all}");
        assert!(all.contains("span 0000000000000006 ends before it starts"), "{all}");
        // The missing parent makes (4) a root; its child (5) is corrected against it.
        assert_eq!(times(&trace, 5), (125, 175));
        assert!(shifts(&adjustments).contains(&(5, 125)));
        let mut sorted = trace.clone();
        sort_for_display(&mut sorted);
        assert_eq!(sorted.len(), trace.len());
    }

    #[test]
    fn identical_copies_are_shown_once() {
        let one = timed(1, None, "a", 1000, 2000);
        let mut other = one.clone();
        other.name = "other".into();
        let mut trace = vec![one.clone(), one.clone(), other, one];
        let adjustments = adjust_trace(&mut trace);
        assert_eq!(trace.len(), 2, "the span that differs stays");
        assert_eq!(adjustments.len(), 1);
        assert_eq!(adjustments[0].kind, AdjustmentKind::DuplicateSpan);
        assert!(adjustments[0].message.contains("3 times"), "{}", adjustments[0].message);
    }

    #[test]
    fn many_warnings_of_one_kind_are_counted() {
        let trace: Vec<Span> = (1..=25).map(|id| timed(id, Some(1000 + id), "a", 0, 1)).collect();
        let warnings = trace_warnings(&trace);
        assert_eq!(warnings.len(), WARNINGS_PER_KIND + 1);
        assert_eq!(warnings.last().unwrap(), "15 more warnings like these (missing_parent)");
    }

    #[test]
    fn a_deep_trace_does_not_exhaust_the_stack() {
        let mut trace: Vec<Span> = (1..=100_000u64)
            .map(|id| {
                let service = if id % 2 == 0 { "even" } else { "odd" };
                timed(id, (id > 1).then(|| id - 1), service, id, 1_000_000 - id)
            })
            .collect();
        adjust_trace(&mut trace);
        assert!(trace_warnings(&trace).is_empty());
        sort_for_display(&mut trace);
        assert_eq!(trace[0].span_id.get(), 1);
    }

    #[test]
    fn generated_traffic_needs_no_correction() {
        // The generator's services share one clock, and its consumers start after their producer
        // returned: nothing should move.
        let mut generator = kiseki_testkit::Generator::new(3);
        for i in 0..50 {
            let mut trace = generator.trace(1_700_000_000_000_000_000 + i * 1_000_000_000);
            let adjustments = adjust_trace(&mut trace);
            assert!(adjustments.is_empty(), "{adjustments:#?}");
            assert!(trace_warnings(&trace).is_empty());
        }
    }

    #[test]
    fn display_order_is_by_start_with_parents_first() {
        let mut trace = vec![
            timed(9, Some(5), "a", 100, 150),
            timed(5, Some(7), "a", 100, 200),
            timed(7, None, "a", 100, 300),
            timed(1, Some(7), "a", 250, 260),
        ];
        sort_for_display(&mut trace);
        let ids: Vec<u64> = trace.iter().map(|s| s.span_id.get()).collect();
        assert_eq!(ids, [7, 5, 9, 1]);
    }

    const SERVICES: [&str; 3] = ["a", "b", "c"];

    fn any_time(range: u64) -> impl Strategy<Value = u64> {
        prop_oneof![0..range, Just(0), Just(u64::MAX), (u64::MAX - range)..=u64::MAX]
    }

    fn any_span(ids: u64, range: u64) -> impl Strategy<Value = Span> {
        (
            1..=ids,
            proptest::option::of(1..=ids),
            0..SERVICES.len(),
            0..6i64,
            any_time(range),
            any_time(range),
            proptest::option::of(any_time(range)),
        )
            .prop_map(|(id, parent, service, kind, start, end, event)| {
                let mut span = timed(id, parent, SERVICES[service], start, end);
                span.kind = SpanKind::from_number(kind).unwrap_or_default();
                if let Some(time) = event {
                    span.events.push(Event { time_unix_nano: time, ..Event::default() });
                }
                span
            })
    }

    proptest! {
        #[test]
        fn adjusting_never_panics_and_keeps_every_duration(
            spans in proptest::collection::vec(any_span(12, 10_000), 0..40),
        ) {
            // Distinct names keep every span distinct, so none is dropped as a copy.
            let mut spans: Vec<Span> = spans
                .into_iter()
                .enumerate()
                .map(|(i, mut span)| {
                    span.name = i.to_string().into();
                    span
                })
                .collect();
            let before = spans.clone();
            let adjustments = adjust_trace(&mut spans);
            trace_warnings(&spans);
            prop_assert_eq!(spans.len(), before.len());
            for (old, new) in before.iter().zip(&spans) {
                let moved =
                    i128::from(new.start_time_unix_nano) - i128::from(old.start_time_unix_nano);
                let moved_end =
                    i128::from(new.end_time_unix_nano) - i128::from(old.end_time_unix_nano);
                prop_assert_eq!(moved, moved_end, "duration kept");
                let reported: i128 = adjustments
                    .iter()
                    .filter(|a| a.kind == AdjustmentKind::ClockSkew && a.span_id == new.span_id)
                    .map(|a| i128::from(a.shift_nanos.unwrap_or(0)))
                    .sum();
                let sharing_the_id = spans.iter().filter(|s| s.span_id == new.span_id).count();
                if sharing_the_id == 1 {
                    prop_assert_eq!(moved, reported, "every move is reported");
                }
            }
            let mut sorted = spans.clone();
            sort_for_display(&mut sorted);
            prop_assert_eq!(sorted.len(), spans.len());
        }

        #[test]
        fn every_corrected_child_sits_inside_its_parent(
            shape in proptest::collection::vec(
                (0..SERVICES.len(), 0..5_000u64, 1..2_000u64),
                1..30,
            ),
            parents in proptest::collection::vec(any::<prop::sample::Index>(), 30),
        ) {
            // A tree: span i + 1's parent is one of the spans before it.
            let mut spans: Vec<Span> = shape
                .iter()
                .enumerate()
                .map(|(i, &(service, start, duration))| {
                    let parent = (i > 0).then(|| parents[i].index(i) as u64 + 1);
                    timed(i as u64 + 1, parent, SERVICES[service], start, start + duration)
                })
                .collect();
            adjust_trace(&mut spans);
            for child in &spans {
                let Some(parent) = child.parent_span_id else { continue };
                let parent = &spans[parent.get() as usize - 1];
                if child.service_name() == parent.service_name() {
                    continue;
                }
                prop_assert!(child.start_time_unix_nano >= parent.start_time_unix_nano);
                if child.duration_nanos() <= parent.duration_nanos() {
                    prop_assert!(child.end_time_unix_nano <= parent.end_time_unix_nano);
                }
            }
        }
    }
}
