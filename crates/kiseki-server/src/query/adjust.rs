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
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
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
