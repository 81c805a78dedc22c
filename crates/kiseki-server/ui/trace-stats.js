// The trace's statistics tab: per service and operation, how many spans, their total and self
// time (self time is where the time actually went), the longest, and errors; sortable by any
// column, with a total row.

import { h, replace, serviceChip } from './dom.js';
import { formatCount, formatDuration, serviceColor } from './format.js';
import { operationStats } from './trace-model.js';

const COLUMNS = [
  { key: 'service', label: 'Service', text: true },
  { key: 'operation', label: 'Operation', text: true },
  { key: 'count', label: 'Spans' },
  { key: 'total', label: 'Total time' },
  { key: 'avg', label: 'Average' },
  { key: 'max', label: 'Longest' },
  { key: 'self', label: 'Self time' },
  { key: 'errors', label: 'Errors' },
];

/** The statistics table of `model` in `container`. */
export function renderStats(container, model) {
  const groups = operationStats(model).map((group) => ({ ...group, avg: group.total / group.count }));
  const totalSelf = groups.reduce((sum, group) => sum + group.self, 0);
  const share = (self) => (totalSelf > 0 ? (self / totalSelf) * 100 : 0);
  let sortKey = 'self';
  let descending = true;
  const table = h('table', { class: 'grid', 'aria-label': 'time per service and operation' });
  const box = h('div', { class: 'stats' }, table);
  container.append(box);
  draw();

  function draw() {
    const column = COLUMNS.find((c) => c.key === sortKey);
    const sorted = [...groups].sort((a, b) => {
      const order = column.text ? String(a[sortKey]).localeCompare(String(b[sortKey])) : a[sortKey] - b[sortKey];
      return descending ? -order : order;
    });
    const head = h('tr', {}, COLUMNS.map((c) => h('th', {
      class: c.text ? null : 'num', 'aria-sort': c.key === sortKey ? (descending ? 'descending' : 'ascending') : null,
    }, h('button', {
      class: 'sort', type: 'button',
      onclick: () => {
        descending = c.key === sortKey ? !descending : !c.text;
        sortKey = c.key;
        draw();
      },
    }, c.label, c.key === sortKey ? (descending ? ' ↓' : ' ↑') : ''))));
    const rows = sorted.map((group) => h('tr', {},
      h('td', {}, serviceChip(group.service, serviceColor(group.service))),
      h('td', {}, group.operation),
      h('td', { class: 'num' }, formatCount(group.count)),
      h('td', { class: 'num' }, formatDuration(group.total)),
      h('td', { class: 'num' }, formatDuration(group.avg)),
      h('td', { class: 'num' }, formatDuration(group.max)),
      h('td', { class: 'num' }, h('span', { class: 'bar-cell' },
        formatDuration(group.self),
        h('span', { class: 'share', title: `${Math.round(share(group.self))}% of all self time` },
          h('i', { style: { width: `${share(group.self)}%` } })))),
      h('td', { class: 'num' }, group.errors > 0 ? h('span', { class: 'badge error' }, formatCount(group.errors)) : '0')));
    const total = h('tr', { class: 'total' },
      h('td', {}, `${model.services.length} services`),
      h('td', {}, `${groups.length} operations`),
      h('td', { class: 'num' }, formatCount(model.nodes.length)),
      h('td', { class: 'num' }, formatDuration(groups.reduce((sum, g) => sum + g.total, 0))),
      h('td', {}), h('td', {}),
      h('td', { class: 'num' }, formatDuration(totalSelf)),
      h('td', { class: 'num' }, formatCount(model.errorCount)));
    replace(table, h('thead', {}, head), h('tbody', {}, rows, total));
  }

  return { destroy: () => box.remove() };
}
