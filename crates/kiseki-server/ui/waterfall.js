// The trace waterfall: one row per visible span (tree column and a bar on the time axis), as a
// virtualised list: only the rows in the viewport (and a few around it) exist in the DOM, so a
// trace of 10 000 spans scrolls as smoothly as one of ten. Rows are keyed by span, so scrolling
// moves and adds rows instead of rebuilding them. The time axis shows the window chosen in the
// minimap; dragging across the axis zooms into the dragged range.

import { h, replace } from './dom.js';
import { formatDuration, serviceColor, ticks } from './format.js';

export const ROW_HEIGHT = 22;
const OVERSCAN = 12;
const NAME_COLUMN_DEFAULT = 0.4;
const NAME_COLUMN_MIN_PX = 280;

/**
 * A waterfall in `container` for `model` (trace-model.js). Callbacks: `select(node)` on a row
 * click, `toggle(node)` on its expander (or a double click), `zoom(start, end)` after an axis drag;
 * `isCollapsed(node)` tells whether a span's children are hidden.
 */
export function createWaterfall(container, model, { select, toggle, zoom, isCollapsed }) {
  let rows = [];
  let indexOf = new Map();
  let view = { start: 0, end: Math.max(model.duration, 1) };
  let selected = null;
  let matches = new Set();
  let nameColumn = NAME_COLUMN_DEFAULT;
  const rendered = new Map(); // node → row element
  let frame = 0;

  const axis = h('div', { class: 'axis', title: 'drag to zoom into a time range' });
  const splitter = h('div', { class: 'splitter', title: 'drag to resize', role: 'separator', 'aria-orientation': 'vertical' });
  const header = h('div', { class: 'wf-header' },
    h('div', { class: 'name-head' }, 'Service · operation', splitter), axis);
  const gridlines = h('div', { class: 'wf-gridlines', 'aria-hidden': 'true' });
  const spacer = h('div', { class: 'wf-spacer' });
  const scroller = h('div', {
    class: 'wf-scroll', tabindex: 0, role: 'tree', 'aria-label': 'spans of the trace', 'aria-multiselectable': 'false',
  }, spacer);
  const viewport = h('div', { class: 'wf-viewport' }, gridlines, scroller);
  const root = h('div', { class: 'waterfall' }, header, viewport);
  container.append(root);

  scroller.addEventListener('scroll', schedule, { passive: true });
  const observer = new ResizeObserver(() => {
    layout();
    drawAxis();
    schedule();
  });
  observer.observe(viewport);
  applyNameColumn();
  wireAxisZoom();
  wireSplitter();

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      paint();
    });
  }

  /** Adds the rows in (and around) the viewport, drops the others, places each at its index. */
  function paint() {
    const height = scroller.clientHeight;
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length - 1, Math.ceil((scroller.scrollTop + height) / ROW_HEIGHT) + OVERSCAN);
    const wanted = new Set();
    for (let i = first; i <= last; i++) wanted.add(rows[i]);
    for (const [node, element] of rendered) {
      if (!wanted.has(node)) {
        element.remove();
        rendered.delete(node);
      }
    }
    for (let i = first; i <= last; i++) {
      const node = rows[i];
      let element = rendered.get(node);
      if (!element) {
        element = buildRow(node);
        rendered.set(node, element);
        spacer.append(element);
      }
      if (element._index !== i) {
        element._index = i;
        element.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
        element.setAttribute('aria-posinset', String(i + 1));
      }
    }
    if (selected && rendered.has(selected)) scroller.setAttribute('aria-activedescendant', rowId(selected));
    else scroller.removeAttribute('aria-activedescendant');
  }

  function rowId(node) {
    return `span-row-${node.order}`;
  }

  function buildRow(node) {
    const colors = serviceColor(node.service);
    const hasChildren = node.children.length > 0;
    const indent = Math.min(node.depth, 24) * 14 + Math.max(0, node.depth - 24) * 3;
    const classes = ['wf-row'];
    if (node === selected) classes.push('selected');
    if (matches.has(node)) classes.push('match');
    if (node.isError) classes.push('error');
    if (node.critical.length > 0) classes.push('on-critical');
    const element = h('div', {
      class: classes.join(' '), id: rowId(node), role: 'treeitem', 'aria-level': node.depth + 1,
      'aria-selected': node === selected ? 'true' : 'false', 'aria-setsize': rows.length,
      'aria-expanded': hasChildren ? String(!isCollapsed(node)) : null,
      data: { spanId: node.id },
      onclick: () => select(node),
      ondblclick: (event) => {
        if (hasChildren) {
          event.preventDefault();
          toggle(node);
        }
      },
    });
    const nameCell = h('div', { class: 'name', title: `${node.service}: ${node.name}` },
      h('span', { class: 'indent', style: { width: `${indent}px` } }),
      hasChildren
        ? h('button', {
          class: 'toggle', type: 'button', tabindex: -1,
          'aria-label': isCollapsed(node) ? 'expand' : 'collapse',
          onclick: (event) => {
            event.stopPropagation();
            toggle(node);
          },
        }, isCollapsed(node) ? '▶' : '▼')
        : h('span', { class: 'nochild' }),
      h('span', { class: 'svc-mark', style: { backgroundColor: colors.bar } }),
      h('span', { class: 'svc' }, node.service),
      h('span', { class: 'op' }, node.name),
      node.isError ? h('span', { class: 'err', title: 'error', 'aria-label': 'error' }, '!') : null,
      node.adjustments.length > 0
        ? h('span', { class: 'adj', title: node.adjustments.map((a) => a.message).join('\n') }, adjustmentMark(node))
        : null,
      isCollapsed(node) && node.descendants > 0
        ? h('span', { class: 'hidden-count', title: `${node.descendants} spans hidden` }, `+${node.descendants}`)
        : null);
    const timeline = h('div', { class: 'timeline' });
    element._timeline = timeline;
    element._colors = colors;
    element.append(nameCell, timeline);
    drawBar(element, node);
    return element;
  }

  /** The bar, its critical-path sections, event ticks and label, for the current view. */
  function drawBar(element, node) {
    const timeline = element._timeline;
    const span = view.end - view.start;
    const pct = (t) => ((t - view.start) / span) * 100;
    const clamp = (p) => Math.min(101, Math.max(-1, p));
    const left = pct(node.start);
    const right = pct(node.end);
    const children = [];
    if (right >= -1 && left <= 101) {
      children.push(h('div', {
        class: `bar${node.isError ? ' error' : ''}`,
        style: { left: `${clamp(left)}%`, width: `max(1px, ${clamp(right) - clamp(left)}%)`, backgroundColor: element._colors.bar },
      }));
      for (const [start, end] of node.critical) {
        const a = clamp(pct(start));
        const b = clamp(pct(end));
        if (b > -1 && a < 101) children.push(h('div', { class: 'cp', style: { left: `${a}%`, width: `max(1px, ${b - a}%)` } }));
      }
      for (const event of node.span.events ?? []) {
        const at = pct(Number(event.offsetNanos));
        if (at >= 0 && at <= 100) children.push(h('div', { class: 'event', style: { left: `${at}%` }, title: event.name }));
      }
    }
    const text = node.selfTime < node.duration
      ? `${formatDuration(node.duration)} · self ${formatDuration(node.selfTime)}`
      : formatDuration(node.duration);
    const label = h('span', { class: 'label' }, text);
    if (right < 0) {
      // Before the window: say so at its left edge.
      label.textContent = `← ${text}`;
      label.style.left = '4px';
    } else if (left > 100) {
      label.textContent = `${text} →`;
      label.style.right = '4px';
    } else if (right < 78) label.style.left = `calc(${Math.max(0, right)}% + 4px)`;
    else if (left > 22) label.style.right = `calc(${100 - Math.min(100, left)}% + 4px)`;
    else {
      label.style.left = `calc(${Math.max(0, left)}% + 4px)`;
      label.classList.add('inside');
    }
    children.push(label);
    replace(timeline, children);
  }

  function adjustmentMark(node) {
    const kinds = new Set(node.adjustments.map((a) => a.kind));
    const parts = [];
    if (kinds.has('clock_skew')) {
      const shift = node.adjustments.find((a) => a.kind === 'clock_skew')?.shiftNanos;
      parts.push(Number.isFinite(shift) ? `skew ${shift >= 0 ? '+' : ''}${formatDuration(shift)}` : 'skew');
    }
    if (kinds.has('shared_span_id')) parts.push('split id');
    if (kinds.has('duplicate_span')) parts.push('duplicate');
    for (const kind of kinds) if (!['clock_skew', 'shared_span_id', 'duplicate_span'].includes(kind)) parts.push(kind.replace(/_/g, ' '));
    return parts.join(', ');
  }

  function drawAxis() {
    const width = axis.clientWidth;
    const span = view.end - view.start;
    const marks = ticks(view.start, view.end, Math.max(2, Math.floor(width / 90)));
    const labels = [];
    const lines = [];
    for (const t of marks) {
      const pct = ((t - view.start) / span) * 100;
      if (pct < 0 || pct > 100) continue;
      const label = h('span', { style: { left: `${pct}%` }, class: pct < 3 ? 'first' : null }, t === 0 ? '0' : formatDuration(t));
      if (pct > 97) label.style.transform = 'translateX(-100%)';
      labels.push(label);
      lines.push(h('i', { style: { left: `${pct}%` } }));
    }
    replace(axis, labels);
    replace(gridlines, lines);
  }

  function applyNameColumn() {
    root.style.setProperty('--name-col', `max(${NAME_COLUMN_MIN_PX}px, ${Math.round(nameColumn * 1000) / 10}%)`);
    layout();
  }

  /** Lines the header and the grid lines up with the rows, which the scroll bar makes narrower. */
  function layout() {
    const scrollbar = scroller.offsetWidth - scroller.clientWidth;
    header.style.paddingRight = `${scrollbar}px`;
    gridlines.style.right = `${scrollbar}px`;
    gridlines.style.left = `${Math.max(NAME_COLUMN_MIN_PX, Math.round(nameColumn * scroller.clientWidth))}px`;
  }

  function wireSplitter() {
    splitter.addEventListener('pointerdown', (event) => {
      event.preventDefault();
      splitter.setPointerCapture(event.pointerId);
      const box = root.getBoundingClientRect();
      const move = (e) => {
        nameColumn = Math.min(0.8, Math.max(0.05, (e.clientX - box.left) / box.width));
        applyNameColumn();
        drawAxis();
      };
      const up = () => {
        splitter.removeEventListener('pointermove', move);
        splitter.removeEventListener('pointerup', up);
      };
      splitter.addEventListener('pointermove', move);
      splitter.addEventListener('pointerup', up);
    });
  }

  function wireAxisZoom() {
    axis.addEventListener('pointerdown', (event) => {
      if (event.button !== 0) return;
      const box = axis.getBoundingClientRect();
      const from = event.clientX - box.left;
      const brush = h('div', { class: 'brush' });
      axis.append(brush);
      axis.setPointerCapture(event.pointerId);
      const move = (e) => {
        const to = Math.min(box.width, Math.max(0, e.clientX - box.left));
        brush.style.left = `${Math.min(from, to)}px`;
        brush.style.width = `${Math.abs(to - from)}px`;
      };
      const up = (e) => {
        axis.removeEventListener('pointermove', move);
        axis.removeEventListener('pointerup', up);
        brush.remove();
        const to = Math.min(box.width, Math.max(0, e.clientX - box.left));
        if (Math.abs(to - from) < 4) return;
        const at = (x) => view.start + (x / box.width) * (view.end - view.start);
        zoom(at(Math.min(from, to)), at(Math.max(from, to)));
      };
      axis.addEventListener('pointermove', move);
      axis.addEventListener('pointerup', up);
    });
  }

  return {
    element: root,
    scroller,
    /** New visible rows (after a collapse or expand). */
    setRows(next) {
      rows = next;
      indexOf = new Map(rows.map((node, i) => [node, i]));
      spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
      // The scroll bar may have come or gone with the new height.
      layout();
      for (const element of rendered.values()) element.remove();
      rendered.clear();
      paint();
    },
    setView(start, end) {
      view = { start, end: Math.max(end, start + 1) };
      drawAxis();
      for (const [node, element] of rendered) drawBar(element, node);
    },
    setSelected(node) {
      const previous = selected;
      selected = node;
      for (const changed of [previous, node]) {
        const element = changed && rendered.get(changed);
        if (!element) continue;
        element.classList.toggle('selected', changed === selected);
        element.setAttribute('aria-selected', changed === selected ? 'true' : 'false');
      }
      paint();
    },
    setMatches(next) {
      matches = next;
      for (const [node, element] of rendered) element.classList.toggle('match', matches.has(node));
    },
    /** Scrolls the least needed to show the row of `node` (no-op when it is not visible). */
    reveal(node) {
      const index = indexOf.get(node);
      if (index === undefined) return;
      const top = index * ROW_HEIGHT;
      const height = scroller.clientHeight;
      if (top < scroller.scrollTop) scroller.scrollTop = top;
      else if (top + ROW_HEIGHT > scroller.scrollTop + height) scroller.scrollTop = top + ROW_HEIGHT - height;
      paint();
    },
    indexOf: (node) => indexOf.get(node),
    rows: () => rows,
    pageSize: () => Math.max(1, Math.floor(scroller.clientHeight / ROW_HEIGHT) - 1),
    destroy() {
      observer.disconnect();
      if (frame) cancelAnimationFrame(frame);
      root.remove();
    },
  };
}
