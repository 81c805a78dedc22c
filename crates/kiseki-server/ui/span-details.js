// The selected span's details beside the waterfall: ids, timing (with self time), status, what
// kiseki adjusted and why, attributes, resource, scope, events with their offsets, and links,
// which open the linked trace (or select the span, when it is in this trace).

import { h, replace, copyText } from './dom.js';
import { adjustmentLabel, attributeText, formatDateTime, formatDuration, unixNanoToMs } from './format.js';

/**
 * Fills `pane` with the details of `node`. `select(node)` selects another span of the trace,
 * `close()` clears the selection, `traceStartMs` is the trace's start in Unix milliseconds.
 */
export function renderSpanDetails(pane, node, model, { select, close, traceStartMs }) {
  const span = node.span;
  const status = span.status ?? { code: 'unset', message: '' };
  const startMs = traceStartMs + node.start / 1e6;
  const parent = node.parent;

  const idRow = (label, id, extra) => kvRow(label, h('span', {},
    h('code', {}, id), ' ', h('button', { class: 'link', type: 'button', onclick: () => copyText(id), title: 'copy' }, 'copy'),
    extra ? [h('br'), extra] : null));

  const overview = h('table', { class: 'kv' }, h('tbody', {},
    kvRow('Service', node.service),
    kvRow('Kind', span.kind ?? 'unspecified'),
    kvRow('Start', h('span', {}, `+${formatDuration(node.start)} `, h('span', { class: 'muted' }, `(${formatDateTime(startMs)})`))),
    kvRow('Duration', formatDuration(node.duration)),
    kvRow('Self time', `${formatDuration(node.selfTime)}${node.duration > 0 ? ` (${Math.round((node.selfTime / node.duration) * 100)}%)` : ''}`),
    kvRow('Status', h('span', { class: status.code === 'error' ? 'status-error' : null },
      status.code, status.message ? `: ${status.message}` : '')),
    node.critical.length > 0
      ? kvRow('Critical path', formatDuration(node.critical.reduce((sum, [a, b]) => sum + b - a, 0)))
      : null,
    idRow('Span id', node.id),
    parent
      ? idRow('Parent', parent.id, h('button', { class: 'link', type: 'button', onclick: () => select(parent) }, `${parent.service}: ${parent.name}`))
      : kvRow('Parent', span.parentSpanId ? h('span', {}, h('code', {}, span.parentSpanId), ' (not in this trace)') : 'none (root)'),
    idRow('Trace id', model.traceId),
    span.traceState ? kvRow('Trace state', h('code', {}, span.traceState)) : null,
    span.flags ? kvRow('Flags', String(span.flags)) : null,
    span.scope?.name ? kvRow('Scope', `${span.scope.name}${span.scope.version ? ` ${span.scope.version}` : ''}`) : null,
    dropped(span)));

  const adjustments = node.adjustments.length > 0
    ? [h('h3', {}, 'Adjusted by kiseki'), node.adjustments.map((adjustment) => h('p', { class: 'warn-box adjustment' },
      h('b', {}, adjustmentTitle(adjustment)), ' ', adjustment.message))]
    : [];

  const events = span.events ?? [];
  const links = span.links ?? [];

  replace(pane,
    h('div', { class: 'head' },
      h('h2', {}, h('span', { class: 'service' }, `${node.service}: `), node.name),
      h('button', { type: 'button', onclick: close, 'aria-label': 'close details', title: 'close (Esc)' }, '×')),
    overview,
    adjustments,
    h('h3', {}, `Attributes (${(span.attributes ?? []).length})`),
    attributeTable(span.attributes),
    events.length > 0 ? [h('h3', {}, `Events (${events.length})`), events.map((event) => eventBox(event, node))] : null,
    links.length > 0 ? [h('h3', {}, `Links (${links.length})`), h('table', { class: 'kv' }, h('tbody', {}, links.map((link) => linkRow(link, model, select))))] : null,
    h('h3', {}, `Resource (${(span.resource ?? []).length})`),
    attributeTable(span.resource));
  pane.hidden = false;
}

function kvRow(label, value) {
  return h('tr', {}, h('td', {}, label), h('td', { class: 'value' }, value));
}

function dropped(span) {
  const parts = [];
  if (span.droppedAttributesCount) parts.push(`${span.droppedAttributesCount} attributes`);
  if (span.droppedEventsCount) parts.push(`${span.droppedEventsCount} events`);
  if (span.droppedLinksCount) parts.push(`${span.droppedLinksCount} links`);
  return parts.length > 0 ? kvRow('Dropped by the tracer', parts.join(', ')) : null;
}

function adjustmentTitle(adjustment) {
  const shift = Number(adjustment.shiftNanos);
  if (adjustment.shiftNanos !== null && Number.isFinite(shift)) {
    return `Shifted ${shift >= 0 ? '+' : ''}${formatDuration(shift)}:`;
  }
  const label = adjustmentLabel(adjustment.kind);
  return `${label.charAt(0).toUpperCase()}${label.slice(1)}:`;
}

/** Attributes sorted by key; long or structured values in a block, each with its type. */
export function attributeTable(attributes) {
  const list = [...(attributes ?? [])].sort((a, b) => String(a.key).localeCompare(String(b.key)));
  if (list.length === 0) return h('p', { class: 'empty-note' }, 'none');
  return h('table', { class: 'kv attributes' }, h('tbody', {}, list.map((attribute) => {
    const text = attribute.type === 'array' || attribute.type === 'map'
      ? JSON.stringify(attribute.value, null, 2)
      : attributeText(attribute);
    const block = text.length > 80 || text.includes('\n');
    return h('tr', { data: { key: attribute.key } },
      h('td', {}, attribute.key, h('span', { class: 'type' }, attribute.type)),
      h('td', { class: 'value' }, block ? h('pre', {}, text) : text));
  })));
}

function eventBox(event, node) {
  const offset = Number(event.offsetNanos);
  return h('div', { class: 'event' },
    h('div', { class: 'event-head' },
      h('b', {}, event.name || '(no name)'),
      h('span', { class: 'muted', title: 'from the trace start' }, `+${formatDuration(offset)}`),
      h('span', { class: 'faint', title: 'from the span start' }, `(${formatDuration(offset - node.start)} into the span)`)),
    (event.attributes ?? []).length > 0 ? attributeTable(event.attributes) : null);
}

function linkRow(link, model, select) {
  const sameTrace = link.traceId === model.traceId;
  const target = sameTrace ? model.byId.get(link.spanId) : null;
  const action = sameTrace
    ? target
      ? h('button', { class: 'link', type: 'button', onclick: () => select(target) }, `${target.service}: ${target.name}`)
      : h('span', { class: 'muted' }, 'this trace, span not found')
    : h('a', { href: `/trace/${link.traceId}?span=${link.spanId}` }, `trace ${link.traceId.slice(0, 8)}…`);
  return h('tr', {},
    h('td', {}, action),
    h('td', { class: 'value' },
      h('code', {}, `${link.traceId} / ${link.spanId}`),
      (link.attributes ?? []).length > 0 ? attributeTable(link.attributes) : null));
}

/** The trace's start in Unix milliseconds, from the API's decimal string. */
export function traceStartMs(model) {
  return unixNanoToMs(model.startUnixNano);
}
