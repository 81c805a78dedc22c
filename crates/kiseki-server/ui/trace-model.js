// What the trace page computes from the API's trace: the span tree, self times, depth, the
// critical path, the rows a collapse state leaves visible, per-operation statistics and text
// search. Pure functions over plain objects: no DOM, so node's test runner checks them too.
// Every walk is iterative, so a trace of any depth cannot overflow the stack.

/**
 * @typedef {object} SpanNode
 * @property {object} span       the API's span, untouched
 * @property {string} id
 * @property {string} service
 * @property {string} name
 * @property {number} start      ns from the trace's start (after the API's adjustments)
 * @property {number} end
 * @property {number} duration
 * @property {number} selfTime   duration not covered by any child (children clamped to the span)
 * @property {boolean} isError
 * @property {SpanNode|null} parent
 * @property {SpanNode[]} children  sorted by start
 * @property {number} depth      0 for a root
 * @property {number} order      position in the depth-first order of the whole tree
 * @property {number} descendants
 * @property {object[]} adjustments  the API's adjustments of this span (clock skew, shared id)
 * @property {Array<[number, number]>} critical  sections of this span on the critical path
 */

/** Builds the model of a trace from the API's `GET /traces/{id}` answer. */
export function buildTrace(data) {
  const spans = Array.isArray(data.spans) ? data.spans : [];
  const nodes = spans.map((span, index) => {
    const start = finite(span.offsetNanos);
    const duration = Math.max(0, finite(span.durationNanos));
    return {
      span,
      index,
      id: String(span.spanId ?? ''),
      service: span.service || 'unknown service',
      name: span.name || '(no name)',
      start,
      duration,
      end: start + duration,
      selfTime: duration,
      isError: span.status?.code === 'error',
      parent: null,
      children: [],
      depth: 0,
      order: 0,
      descendants: 0,
      adjustments: [],
      critical: [],
    };
  });

  const byId = new Map();
  for (const node of nodes) if (!byId.has(node.id)) byId.set(node.id, node);

  const byStart = (a, b) => a.start - b.start || a.index - b.index;
  for (const node of nodes) {
    const parentId = node.span.parentSpanId;
    const parent = parentId ? byId.get(String(parentId)) : undefined;
    if (parent && parent !== node) {
      node.parent = parent;
      parent.children.push(node);
    }
  }
  for (const node of nodes) node.children.sort(byStart);

  const ordered = orderTree(nodes, byStart);
  const roots = ordered.filter((node) => node.parent === null);

  for (const node of nodes) node.selfTime = selfTime(node);
  for (let i = ordered.length - 1; i >= 0; i--) {
    const node = ordered[i];
    if (node.parent) node.parent.descendants += node.descendants + 1;
  }

  for (const adjustment of Array.isArray(data.adjustments) ? data.adjustments : []) {
    byId.get(String(adjustment.spanId))?.adjustments.push(adjustment);
  }

  const root = mainRoot(roots);
  if (root) markCriticalPath(root);

  const services = new Map();
  let depth = 0;
  let errorCount = 0;
  for (const node of nodes) {
    depth = Math.max(depth, node.depth + 1);
    if (node.isError) errorCount++;
    const entry = services.get(node.service) ?? { name: node.service, spanCount: 0, errorCount: 0 };
    entry.spanCount++;
    if (node.isError) entry.errorCount++;
    services.set(node.service, entry);
  }
  const lastEnd = nodes.reduce((max, node) => Math.max(max, node.end), 0);

  return {
    traceId: String(data.traceId ?? ''),
    startUnixNano: String(data.startUnixNano ?? '0'),
    duration: Math.max(finite(data.durationNanos), lastEnd),
    nodes: ordered,
    byId,
    roots,
    root,
    depth,
    errorCount,
    services: [...services.values()].sort((a, b) => b.spanCount - a.spanCount || a.name.localeCompare(b.name)),
    adjustedCount: nodes.filter((node) => node.adjustments.length > 0).length,
    warnings: Array.isArray(data.warnings) ? data.warnings : [],
  };
}

function finite(value) {
  const number = Number(value);
  return Number.isFinite(number) ? number : 0;
}

/**
 * Depth-first order of the whole forest, with depths set. Spans caught in a parent cycle (bad
 * data) are cut loose and become roots, so every span is shown exactly once.
 */
function orderTree(nodes, byStart) {
  const ordered = [];
  const seen = new Set();
  const walk = (root) => {
    const stack = [root];
    while (stack.length > 0) {
      const node = stack.pop();
      seen.add(node);
      node.order = ordered.length;
      node.depth = node.parent ? node.parent.depth + 1 : 0;
      ordered.push(node);
      for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
    }
  };
  const roots = nodes.filter((node) => node.parent === null).sort(byStart);
  for (const root of roots) walk(root);
  for (const node of nodes) {
    if (seen.has(node)) continue;
    // In a cycle: detach it from its parent and walk it as a root.
    const siblings = node.parent.children;
    siblings.splice(siblings.indexOf(node), 1);
    node.parent = null;
    walk(node);
  }
  return ordered;
}

/** The part of a span's duration that no child covers; children are clamped to the span. */
export function selfTime(node) {
  let covered = 0;
  let reach = node.start;
  const intervals = node.children
    .map((child) => [Math.max(child.start, node.start), Math.min(child.end, node.end)])
    .filter(([start, end]) => end > start)
    .sort((a, b) => a[0] - b[0]);
  for (const [start, end] of intervals) {
    if (end <= reach) continue;
    covered += end - Math.max(start, reach);
    reach = end;
  }
  return Math.max(0, node.duration - covered);
}

/** The root the trace is about: a span with no parent id first, then the earliest, then the longest. */
function mainRoot(roots) {
  let best = null;
  for (const root of roots) {
    if (best === null) {
      best = root;
      continue;
    }
    const rank = (node) => [node.span.parentSpanId ? 1 : 0, node.start, -node.duration];
    const [a, b] = [rank(root), rank(best)];
    if (a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])))) best = root;
  }
  return best;
}

/**
 * Marks the critical path: the chain of spans that decides the end-to-end latency. From the root's
 * end, the last-finishing child is where the time went; in that child the same question is asked;
 * when a span has no child that finished before the current point, its own time back to its start
 * is critical, and the walk resumes in its parent at that start, among the children that finished
 * before it. Children are clamped to their parent's (clamped) interval, children that do not
 * overlap their parent are ignored. Sets `critical` on every span on the path and returns the
 * sections, latest first.
 */
export function markCriticalPath(root) {
  const sections = [];
  // Per span on the path: its clamped interval and its candidate children, latest end first.
  const state = new Map();
  const enter = (node, start, end) => {
    const candidates = node.children
      .map((child) => ({ child, start: Math.max(child.start, start), end: Math.min(child.end, end) }))
      .filter((candidate) => candidate.end > candidate.start)
      .sort((a, b) => b.end - a.end || a.start - b.start);
    state.set(node, { start, end, candidates, next: 0 });
  };
  const add = (node, start, end) => {
    if (end > start) {
      node.critical.push([start, end]);
      sections.push({ node, start, end });
    }
  };

  enter(root, root.start, root.end);
  let node = root;
  let cursor = root.end;
  while (node) {
    const current = state.get(node);
    let next = null;
    // The cursor only moves back in time, so a child skipped once stays skipped.
    while (current.next < current.candidates.length) {
      const candidate = current.candidates[current.next++];
      if (candidate.end <= cursor) {
        next = candidate;
        break;
      }
    }
    if (next) {
      add(node, next.end, cursor);
      enter(next.child, next.start, next.end);
      node = next.child;
      cursor = next.end;
    } else {
      add(node, current.start, cursor);
      cursor = current.start;
      node = node === root ? null : node.parent;
    }
  }
  for (const section of sections) section.node.critical.sort((a, b) => a[0] - b[0]);
  return sections;
}

/** The spans a collapse state leaves visible, in tree order. `collapsed` holds span nodes. */
export function visibleRows(model, collapsed) {
  const rows = [];
  const stack = [];
  for (let i = model.roots.length - 1; i >= 0; i--) stack.push(model.roots[i]);
  while (stack.length > 0) {
    const node = stack.pop();
    rows.push(node);
    if (collapsed.has(node)) continue;
    for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
  }
  return rows;
}

/** Ancestors of a span, nearest first. */
export function ancestors(node) {
  const out = [];
  for (let parent = node.parent; parent; parent = parent.parent) out.push(parent);
  return out;
}

/**
 * Per service and operation: span count, total and self time, errors, longest span. Sorted by self
 * time, the biggest first (where the time went).
 */
export function operationStats(model) {
  const groups = new Map();
  for (const node of model.nodes) {
    const key = `${node.service}\u0000${node.name}`;
    let group = groups.get(key);
    if (!group) {
      group = { service: node.service, operation: node.name, count: 0, total: 0, self: 0, errors: 0, max: 0 };
      groups.set(key, group);
    }
    group.count++;
    group.total += node.duration;
    group.self += node.selfTime;
    group.max = Math.max(group.max, node.duration);
    if (node.isError) group.errors++;
  }
  return [...groups.values()].sort((a, b) => b.self - a.self || a.service.localeCompare(b.service));
}

const haystacks = new WeakMap();

/** Lowercase text a find query is matched against: service, name, ids and attributes. */
function haystack(node) {
  let text = haystacks.get(node);
  if (text === undefined) {
    const attributes = [...(node.span.attributes ?? []), ...(node.span.resource ?? [])]
      .map((a) => `${a.key}=${typeof a.value === 'object' ? JSON.stringify(a.value) : a.value}`);
    text = [node.service, node.name, node.id, node.span.status?.message ?? '', ...attributes]
      .join('\n').toLowerCase();
    haystacks.set(node, text);
  }
  return text;
}

/** The spans (in tree order) whose text holds every whitespace-separated word of `query`. */
export function findSpans(model, query) {
  const words = String(query).toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  return model.nodes.filter((node) => {
    const text = haystack(node);
    return words.every((word) => text.includes(word));
  });
}
