// The trace page (`/trace/{id}`, `?span={spanId}` selects a span): the header with what the trace
// is, what kiseki adjusted and warned about, the minimap and waterfall (collapse, find, critical
// path, zoom), the selected span's details, the statistics tab, the raw download, and the keys:
// `/` find, ↑/↓ move, Enter toggle, ←/→ collapse/expand or go to parent/child, Esc close.

import * as api from './api.js';
import { h, replace, serviceChip, copyText, isTyping } from './dom.js';
import { adjustmentLabel, formatCount, formatDateTime, formatDuration, serviceColor, shortId } from './format.js';
import { ancestors, buildTrace, findSpans, visibleRows } from './trace-model.js';
import { createWaterfall } from './waterfall.js';
import { createMinimap } from './minimap.js';
import { renderSpanDetails, traceStartMs } from './span-details.js';
import { renderStats } from './trace-stats.js';

export function mount(root, url, [traceId], context) {
  const controller = new AbortController();
  const page = h('div', { class: 'trace-page', 'aria-busy': 'true' }, h('p', { class: 'loading' }, `Loading trace ${traceId}…`));
  root.append(page);
  context.setTitle(`Trace ${shortId(traceId)}`);
  let view = null;

  api.trace(traceId, { signal: controller.signal }).then((data) => {
    page.removeAttribute('aria-busy');
    view = showTrace(page, buildTrace(data), context);
    view.update(new URL(location.href));
  }, (error) => {
    if (error.name === 'AbortError') return;
    page.removeAttribute('aria-busy');
    const notFound = error.status === 404;
    context.setTitle(notFound ? 'Trace not found' : 'Trace not loaded');
    replace(page, h('section', { class: 'empty-page' },
      h('h1', {}, notFound ? `Trace ${traceId} was not found` : `Trace ${traceId} could not be loaded`),
      h('p', { class: notFound ? 'muted' : 'error-box', role: 'alert' }, notFound
        ? 'It may be older than the retention period, not received yet, or the id may be mistyped.'
        : error.message),
      h('p', {}, h('a', { href: '/search' }, 'Search traces'))));
  });

  return {
    update(newUrl) {
      view?.update(newUrl);
    },
    unmount() {
      controller.abort();
      view?.destroy();
    },
  };
}

function showTrace(page, model, context) {
  const collapsed = new Set();
  let rows = visibleRows(model, collapsed);
  let selected = null;
  let matches = [];
  let matchIndex = -1;
  let tab = 'waterfall';
  const startMs = traceStartMs(model);
  const root = model.root;
  const title = root ? `${root.service}: ${root.name}` : 'trace without spans';
  context.setTitle(`${title} (${shortId(model.traceId)})`);

  // Header: what the trace is.
  const header = h('header', { class: 'trace-header' },
    h('div', { class: 'line1' },
      h('h1', {}, root ? [h('span', { class: 'service' }, `${root.service}: `), root.name] : title),
      h('code', { class: 'muted', title: 'trace id' }, model.traceId),
      h('button', { class: 'link', type: 'button', onclick: () => copyText(model.traceId) }, 'copy id'),
      h('span', { class: 'actions' },
        h('a', { class: 'button', href: api.rawTraceUrl(model.traceId), download: `trace-${model.traceId}.json` },
          'Download raw JSON'))),
    h('div', { class: 'facts' },
      fact('Start', formatDateTime(startMs)),
      fact('Duration', formatDuration(model.duration)),
      fact('Services', formatCount(model.services.length)),
      fact('Spans', formatCount(model.nodes.length)),
      fact('Depth', formatCount(model.depth)),
      fact('Errors', formatCount(model.errorCount), model.errorCount > 0 ? 'error' : null)),
    h('div', { class: 'chips' }, model.services.map((service) => serviceChip(service.name, serviceColor(service.name),
      h('span', { class: 'count' }, ` ${service.spanCount}${service.errorCount ? ` · ${service.errorCount}!` : ''}`)))),
    notes());

  function notes() {
    const items = [];
    const warnings = model.warnings;
    if (warnings.length === 1) {
      items.push(h('p', { class: 'warn-box', role: 'note' }, warnings[0]));
    } else if (warnings.length > 1) {
      items.push(h('details', { class: 'warn-box', role: 'note' },
        h('summary', {}, `${warnings.length} warnings about this trace, the first: ${warnings[0]}`),
        h('ul', {}, warnings.map((warning) => h('li', {}, warning)))));
    }
    if (model.adjustedCount > 0) {
      const first = model.nodes.find((node) => node.adjustments.length > 0);
      const kinds = [...new Set(model.nodes.flatMap((node) => node.adjustments.map((a) => a.kind)))]
        .map(adjustmentLabel);
      items.unshift(h('p', { class: 'warn-box adjustments-note', role: 'note' },
        `${model.adjustedCount} span${model.adjustedCount === 1 ? ' was' : 's were'} adjusted for ${kinds.join(' and ')} (marked in the waterfall). `,
        h('button', { class: 'link', type: 'button', onclick: () => selectNode(first, { reveal: true }) }, 'Show the first')));
    }
    return items.length > 0 ? h('div', { class: 'trace-notes' }, items) : null;
  }

  // Toolbar: tabs, find, expand/collapse, critical path.
  const findInput = h('input', {
    type: 'search', placeholder: 'Find spans (service, name, id, key=value)', 'aria-label': 'find spans',
    'data-slash-focus': true, autocomplete: 'off', spellcheck: 'false',
    oninput: () => {
      clearTimeout(findTimer);
      findTimer = setTimeout(runFind, 120);
    },
    onkeydown: (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        runFind();
        step(event.shiftKey ? -1 : 1);
      } else if (event.key === 'Escape') {
        findInput.value = '';
        runFind();
        waterfall.scroller.focus();
      }
    },
  });
  let findTimer = 0;
  const findCount = h('span', { class: 'muted', 'aria-live': 'polite' });
  const criticalButton = h('button', {
    type: 'button', 'aria-pressed': 'true', title: 'the chain of spans that decides the end-to-end latency',
    onclick: () => {
      const on = criticalButton.getAttribute('aria-pressed') !== 'true';
      criticalButton.setAttribute('aria-pressed', String(on));
      body.classList.toggle('hide-critical', !on);
    },
  }, h('span', { class: 'legend' }, h('span', { class: 'cp' })), ' Critical path');
  const tabButtons = {
    waterfall: h('button', { type: 'button', role: 'tab', onclick: () => showTab('waterfall') }, 'Waterfall'),
    stats: h('button', { type: 'button', role: 'tab', onclick: () => showTab('stats') }, 'Statistics'),
  };
  const waterfallTools = h('span', { class: 'find' },
    findInput,
    h('button', { type: 'button', 'aria-label': 'previous match', title: 'previous match (Shift+Enter)', onclick: () => step(-1) }, '↑'),
    h('button', { type: 'button', 'aria-label': 'next match', title: 'next match (Enter)', onclick: () => step(1) }, '↓'),
    findCount,
    h('span', { class: 'sep' }),
    h('button', { type: 'button', onclick: expandAll }, 'Expand all'),
    h('button', { type: 'button', onclick: collapseAll }, 'Collapse all'),
    criticalButton,
    h('button', { type: 'button', onclick: () => setView(0, model.duration), title: 'show the whole trace' }, 'Reset zoom'));
  const toolbar = h('div', { class: 'toolbar' },
    h('span', { class: 'tabs', role: 'tablist' }, tabButtons.waterfall, tabButtons.stats),
    waterfallTools);

  const minimapBox = h('div', {});
  const details = h('aside', { class: 'details', hidden: true, 'aria-label': 'span details' });
  const body = h('div', { class: 'trace-body' });
  const statsBox = h('div', { class: 'trace-body', hidden: true });
  replace(page, header, toolbar, minimapBox, body, statsBox);

  const waterfall = createWaterfall(body, model, {
    select: (node) => selectNode(node === selected ? null : node),
    toggle,
    zoom: (start, end) => setView(start, end),
    isCollapsed: (node) => collapsed.has(node),
  });
  body.append(details);
  const minimap = createMinimap(minimapBox, model, { change: (start, end) => waterfall.setView(start, end) });
  let stats = null;
  waterfall.setRows(rows);
  waterfall.setView(0, model.duration);
  showTab('waterfall');

  function fact(label, value, cls) {
    return h('span', { class: cls }, `${label} `, h('b', {}, value));
  }

  function setView(start, end) {
    minimap.setView(start, end);
    waterfall.setView(start, end);
  }

  function showTab(name) {
    tab = name;
    for (const [key, button] of Object.entries(tabButtons)) button.setAttribute('aria-selected', String(key === name));
    const onWaterfall = name === 'waterfall';
    waterfallTools.hidden = !onWaterfall;
    minimapBox.hidden = !onWaterfall;
    body.hidden = !onWaterfall;
    statsBox.hidden = onWaterfall;
    if (!onWaterfall && !stats) stats = renderStats(statsBox, model);
  }

  function refreshRows() {
    rows = visibleRows(model, collapsed);
    waterfall.setRows(rows);
  }

  function toggle(node) {
    if (node.children.length === 0) return;
    if (collapsed.has(node)) collapsed.delete(node);
    else collapsed.add(node);
    refreshRows();
  }

  function expandAll() {
    collapsed.clear();
    refreshRows();
    if (selected) waterfall.reveal(selected);
  }

  function collapseAll() {
    for (const node of model.nodes) if (node.children.length > 0) collapsed.add(node);
    if (selected && selected.parent) selectNode(model.roots.includes(selected) ? selected : ancestors(selected).at(-1));
    refreshRows();
  }

  /** Makes a span's row visible: expands its ancestors. */
  function uncover(node) {
    let changed = false;
    for (const ancestor of ancestors(node)) {
      if (collapsed.delete(ancestor)) changed = true;
    }
    if (changed) refreshRows();
  }

  function selectNode(node, { reveal = true, keepUrl = false } = {}) {
    selected = node;
    if (node) {
      uncover(node);
      renderSpanDetails(details, node, model, {
        select: (other) => selectNode(other),
        close: () => selectNode(null),
        traceStartMs: startMs,
      });
    } else {
      details.hidden = true;
      replace(details);
    }
    waterfall.setSelected(node);
    if (node && reveal) waterfall.reveal(node);
    if (!keepUrl) {
      const params = new URLSearchParams(location.search);
      if (node) params.set('span', node.id);
      else params.delete('span');
      const query = params.toString();
      history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}`);
    }
  }

  function runFind() {
    matches = findSpans(model, findInput.value);
    matchIndex = -1;
    waterfall.setMatches(new Set(matches));
    findCount.textContent = findInput.value.trim() ? `${formatCount(matches.length)} found` : '';
  }

  function step(direction) {
    if (matches.length === 0) return;
    matchIndex = (matchIndex + direction + matches.length) % matches.length;
    findCount.textContent = `${matchIndex + 1} of ${formatCount(matches.length)}`;
    selectNode(matches[matchIndex]);
  }

  function onKey(event) {
    if (tab !== 'waterfall' || isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
    const index = selected ? waterfall.indexOf(selected) ?? -1 : -1;
    const go = (i) => {
      const target = rows[Math.min(rows.length - 1, Math.max(0, i))];
      if (target) selectNode(target);
    };
    const actions = {
      ArrowDown: () => go(index + 1),
      ArrowUp: () => go(index < 0 ? 0 : index - 1),
      PageDown: () => go(index + waterfall.pageSize()),
      PageUp: () => go(index - waterfall.pageSize()),
      Home: () => go(0),
      End: () => go(rows.length - 1),
      Enter: () => selected && toggle(selected),
      ArrowLeft: () => {
        if (!selected) return;
        if (selected.children.length > 0 && !collapsed.has(selected)) toggle(selected);
        else if (selected.parent) selectNode(selected.parent);
      },
      ArrowRight: () => {
        if (!selected) return;
        if (collapsed.has(selected)) toggle(selected);
        else if (selected.children.length > 0) selectNode(selected.children[0]);
      },
      Escape: () => selectNode(null),
    };
    const action = actions[event.key];
    if (!action) return;
    // Keys on a focused button or link keep their own meaning.
    if ((event.key === 'Enter') && event.target instanceof Element && event.target.closest('button, a')) return;
    event.preventDefault();
    action();
  }
  document.addEventListener('keydown', onKey);

  return {
    update(newUrl) {
      const spanId = newUrl.searchParams.get('span');
      const node = spanId ? model.byId.get(spanId) : null;
      if (node !== selected) selectNode(node ?? null, { keepUrl: true });
    },
    destroy() {
      document.removeEventListener('keydown', onKey);
      clearTimeout(findTimer);
      waterfall.destroy();
      minimap.destroy();
      stats?.destroy();
    },
  };
}
