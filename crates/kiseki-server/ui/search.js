// The search page: a form whose every field lives in the URL (so a search is a link that can be
// shared and survives reload), the API's answer as a duration-over-time scatter and a sortable
// list of traces, and the API's 400s shown beside the form with the field at fault marked.

import * as api from './api.js';
import { h, replace, serviceChip } from './dom.js';
import { formatAgo, formatCount, formatDateTime, formatDuration, serviceColor, shortId, toDateTimeLocal, unixNanoToMs } from './format.js';
import { createScatter } from './scatter.js';

const LOOKBACKS = [['15m', 'Last 15 minutes'], ['1h', 'Last hour'], ['6h', 'Last 6 hours'],
  ['24h', 'Last 24 hours'], ['2d', 'Last 2 days'], ['7d', 'Last 7 days'], ['custom', 'Custom range…']];
const DEFAULT_LOOKBACK = '1h';

export const SORTS = {
  newest: ['Newest first', (a, b) => b.startMs - a.startMs],
  oldest: ['Oldest first', (a, b) => a.startMs - b.startMs],
  longest: ['Longest first', (a, b) => b.durationNanos - a.durationNanos],
  shortest: ['Shortest first', (a, b) => a.durationNanos - b.durationNanos],
  'most-spans': ['Most spans', (a, b) => b.spanCount - a.spanCount],
  'most-errors': ['Most errors', (a, b) => b.errorCount - a.errorCount || b.startMs - a.startMs],
};

/** The URL parameters that go to the API as they are; `sort` stays in the page. */
const API_PARAMETERS = ['service', 'operation', 'attr', 'minDuration', 'maxDuration', 'lookback', 'start', 'end', 'errorsOnly', 'limit'];

/** The API's search parameters for a page URL: start/end win over lookback, as in the API. */
export function apiParameters(pageParams) {
  const out = new URLSearchParams();
  for (const [key, value] of pageParams) {
    if (!API_PARAMETERS.includes(key) || value === '') continue;
    if (key === 'lookback' && (pageParams.get('start') || pageParams.get('end') || value === 'custom')) continue;
    out.append(key, value);
  }
  return out;
}

export function mount(root, url, _params, context) {
  const fields = {};
  let attrs = [];
  let serviceList = [];
  let results = null; // {traces, limit}
  let inFlight = null;

  const formError = h('p', { class: 'error-box', role: 'alert', hidden: true });
  const datalist = h('datalist', { id: 'attr-suggestions' });

  fields.service = h('select', { name: 'service', id: 'f-service', 'data-slash-focus': true, onchange: () => fillOperations('') });
  fields.operation = h('select', { name: 'operation', id: 'f-operation' });
  fields.attr = h('input', {
    id: 'f-attr', placeholder: 'http.status_code=500', list: 'attr-suggestions', autocomplete: 'off', spellcheck: 'false',
    oninput: suggest, onkeydown: (event) => {
      if (event.key === 'Enter' && fields.attr.value.trim() !== '') {
        event.preventDefault();
        addPendingAttr();
      }
    },
  });
  const chipBox = h('div', { class: 'filter-chips', 'aria-live': 'polite' });
  fields.minDuration = h('input', { name: 'minDuration', id: 'f-min', placeholder: 'e.g. 250ms', autocomplete: 'off' });
  fields.maxDuration = h('input', { name: 'maxDuration', id: 'f-max', placeholder: 'e.g. 2s', autocomplete: 'off' });
  fields.lookback = h('select', { name: 'lookback', id: 'f-lookback', onchange: showRange },
    LOOKBACKS.map(([value, text]) => h('option', { value }, text)));
  fields.start = h('input', { type: 'datetime-local', id: 'f-start', step: 1 });
  fields.end = h('input', { type: 'datetime-local', id: 'f-end', step: 1 });
  const range = h('div', { class: 'row2', hidden: true },
    h('div', { class: 'field' }, h('label', { for: 'f-start' }, 'From'), fields.start),
    h('div', { class: 'field' }, h('label', { for: 'f-end' }, 'To'), fields.end));
  fields.errorsOnly = h('input', { type: 'checkbox', id: 'f-errors' });
  fields.limit = h('input', { type: 'number', id: 'f-limit', min: 1, max: 1000, step: 1, placeholder: '20' });

  const form = h('form', { class: 'search-form', 'aria-label': 'search traces', onsubmit: submit, novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'f-service' }, 'Service'), fields.service),
    h('div', { class: 'field' }, h('label', { for: 'f-operation' }, 'Operation'), fields.operation),
    h('div', { class: 'field' },
      h('label', { for: 'f-attr' }, 'Attributes (key=value, all must match one span)'),
      h('div', { class: 'attr-entry' }, fields.attr, h('button', { type: 'button', onclick: addPendingAttr }, 'Add')),
      datalist, chipBox),
    h('div', { class: 'row2' },
      h('div', { class: 'field' }, h('label', { for: 'f-min' }, 'Min duration'), fields.minDuration),
      h('div', { class: 'field' }, h('label', { for: 'f-max' }, 'Max duration'), fields.maxDuration)),
    h('div', { class: 'field' }, h('label', { for: 'f-lookback' }, 'Time range'), fields.lookback),
    range,
    h('div', { class: 'row2' },
      h('div', { class: 'field' }, h('label', { for: 'f-limit' }, 'Limit'), fields.limit),
      h('label', { class: 'check' }, fields.errorsOnly, 'Errors only')),
    formError,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Find traces'),
      h('button', { type: 'button', onclick: reset }, 'Reset')),
    h('p', { class: 'hint' }, 'Durations are written like 250ms, 1.5s or 2m. Press / to jump to the form.'));

  const sortSelect = h('select', { id: 'f-sort', 'aria-label': 'sort traces', onchange: changeSort },
    Object.entries(SORTS).map(([value, [text]]) => h('option', { value }, text)));
  const summary = h('span', { class: 'count', role: 'status' });
  const note = h('span', { class: 'muted' });
  const scatterBox = h('div', { class: 'scatter', 'aria-label': 'trace durations over time' });
  const list = h('div', { class: 'trace-list', 'aria-label': 'traces' });
  const resultsBox = h('section', { class: 'results', 'aria-label': 'results' },
    h('div', { class: 'results-head' }, summary, note,
      h('label', { class: 'sort' }, 'Sort', sortSelect)),
    scatterBox, list);
  root.append(h('div', { class: 'search-page' }, form, resultsBox));

  const rowsById = new Map();
  const scatter = createScatter(scatterBox, {
    open: (id) => context.navigate(`/trace/${id}`),
    hover: (id, on) => rowsById.get(id)?.classList.toggle('hover', on),
  });

  const ready = api.services().then((list) => { serviceList = list; }, (error) => {
    showError(`services could not be loaded: ${error.message}`);
  });
  update(url);

  /** The URL changed (a new search, back/forward): fill the form from it and search again. */
  function update(newUrl) {
    const params = newUrl.searchParams;
    // At once from the URL (the lists may still be loading), then again with the full lists.
    const fillPickers = () => {
      fillServices(params.get('service') ?? '');
      fillOperations(params.get('operation') ?? '');
    };
    fillPickers();
    ready.then(fillPickers);
    attrs = params.getAll('attr').filter(Boolean);
    renderChips();
    fields.attr.value = '';
    fields.minDuration.value = params.get('minDuration') ?? '';
    fields.maxDuration.value = params.get('maxDuration') ?? '';
    const start = Number(params.get('start'));
    const end = Number(params.get('end'));
    if (params.get('start') || params.get('end')) {
      fields.lookback.value = 'custom';
      fields.start.value = Number.isFinite(start) && start > 0 ? toDateTimeLocal(start) : '';
      fields.end.value = Number.isFinite(end) && end > 0 ? toDateTimeLocal(end) : '';
    } else {
      const lookback = params.get('lookback') || DEFAULT_LOOKBACK;
      if (![...fields.lookback.options].some((option) => option.value === lookback)) {
        fields.lookback.append(h('option', { value: lookback }, `Last ${lookback}`));
      }
      fields.lookback.value = lookback;
    }
    showRange();
    fields.errorsOnly.checked = params.get('errorsOnly') === 'true';
    fields.limit.value = params.get('limit') ?? '';
    sortSelect.value = SORTS[params.get('sort')] ? params.get('sort') : 'newest';
    const service = params.get('service');
    context.setTitle(service ? `Search ${service}` : 'Search');
    run(params);
  }

  function fillServices(selected) {
    const names = serviceList.map((service) => service.name);
    if (selected && !names.includes(selected)) names.push(selected);
    replace(fields.service, h('option', { value: '' }, 'All services'),
      names.map((name) => h('option', { value: name }, name)));
    fields.service.value = selected;
  }

  function fillOperations(selected) {
    const service = fields.service.value;
    const sources = service ? serviceList.filter((s) => s.name === service) : serviceList;
    const names = [...new Set(sources.flatMap((s) => (s.operations ?? []).map((op) => op.name)))].sort();
    if (selected && !names.includes(selected)) names.unshift(selected);
    replace(fields.operation, h('option', { value: '' }, 'All operations'),
      names.map((name) => h('option', { value: name }, name)));
    fields.operation.value = selected;
  }

  function showRange() {
    const custom = fields.lookback.value === 'custom';
    range.hidden = !custom;
    if (custom && !fields.start.value) {
      const now = Date.now();
      fields.start.value = toDateTimeLocal(now - 3600_000);
      fields.end.value = toDateTimeLocal(now);
    }
  }

  async function suggest() {
    const text = fields.attr.value;
    const eq = text.indexOf('=');
    try {
      if (eq < 0) {
        const keys = await api.attributeKeys();
        if (fields.attr.value !== text) return;
        replace(datalist, keys.slice(0, 200).map((key) => h('option', { value: `${key}=` })));
      } else {
        const key = text.slice(0, eq).trim();
        if (!key) return;
        const values = await api.attributeValues(key);
        if (fields.attr.value !== text) return;
        replace(datalist, values.slice(0, 200).map((value) => h('option', { value: `${key}=${value}` })));
      }
    } catch {
      // Autocomplete is a help; the search itself reports errors.
    }
  }

  /** Turns the attribute box's text into a filter chip; false (and a message) when malformed. */
  function addPendingAttr() {
    const text = fields.attr.value.trim();
    if (text === '') return true;
    const eq = text.indexOf('=');
    if (eq <= 0) {
      markInvalid('attr', `attribute filter "${text}": write it as key=value`);
      return false;
    }
    if (!attrs.includes(text)) attrs.push(text);
    fields.attr.value = '';
    fields.attr.removeAttribute('aria-invalid');
    renderChips();
    return true;
  }

  function renderChips() {
    replace(chipBox, attrs.map((attr, index) => h('span', { class: 'filter-chip' }, attr,
      h('button', {
        type: 'button', 'aria-label': `remove filter ${attr}`, title: 'remove',
        onclick: () => { attrs.splice(index, 1); renderChips(); },
      }, '×'))));
  }

  function formParameters() {
    const params = new URLSearchParams();
    if (fields.service.value) params.set('service', fields.service.value);
    if (fields.operation.value) params.set('operation', fields.operation.value);
    for (const attr of attrs) params.append('attr', attr);
    if (fields.minDuration.value.trim()) params.set('minDuration', fields.minDuration.value.trim());
    if (fields.maxDuration.value.trim()) params.set('maxDuration', fields.maxDuration.value.trim());
    if (fields.lookback.value === 'custom') {
      const start = new Date(fields.start.value).getTime();
      const end = new Date(fields.end.value).getTime();
      if (Number.isFinite(start)) params.set('start', String(start));
      if (Number.isFinite(end)) params.set('end', String(end));
    } else if (fields.lookback.value !== DEFAULT_LOOKBACK) {
      params.set('lookback', fields.lookback.value);
    }
    if (fields.errorsOnly.checked) params.set('errorsOnly', 'true');
    if (fields.limit.value.trim()) params.set('limit', fields.limit.value.trim());
    if (sortSelect.value !== 'newest') params.set('sort', sortSelect.value);
    return params;
  }

  function submit(event) {
    event.preventDefault();
    if (!addPendingAttr()) return;
    if (fields.lookback.value === 'custom' && (!fields.start.value || !fields.end.value)) {
      markInvalid(fields.start.value ? 'end' : 'start', 'a custom range needs a start and an end');
      return;
    }
    const query = formParameters().toString();
    context.navigate(`/search${query ? `?${query}` : ''}`);
  }

  function reset() {
    context.navigate('/search');
  }

  function changeSort() {
    const params = new URLSearchParams(location.search);
    if (sortSelect.value === 'newest') params.delete('sort');
    else params.set('sort', sortSelect.value);
    const query = params.toString();
    history.replaceState(null, '', `/search${query ? `?${query}` : ''}`);
    renderResults();
  }

  async function run(pageParams) {
    inFlight?.abort();
    const controller = new AbortController();
    inFlight = controller;
    clearErrors();
    resultsBox.setAttribute('aria-busy', 'true');
    summary.textContent = 'Searching…';
    note.textContent = '';
    try {
      const answer = await api.search(apiParameters(pageParams), { signal: controller.signal });
      if (controller.signal.aborted) return;
      results = {
        limit: answer.limit,
        traces: (answer.traces ?? []).map((trace) => ({ ...trace, startMs: unixNanoToMs(trace.startUnixNano) })),
      };
      renderResults();
    } catch (error) {
      if (error.name === 'AbortError') return;
      results = null;
      summary.textContent = 'No results';
      scatter.render([]);
      replace(list);
      const field = fieldFor(error.parameter);
      if (field) markInvalid(field, error.message);
      else showError(error.message);
    } finally {
      if (inFlight === controller) resultsBox.removeAttribute('aria-busy');
    }
  }

  function renderResults() {
    if (!results) return;
    const [, compare] = SORTS[sortSelect.value] ?? SORTS.newest;
    const traces = [...results.traces].sort(compare);
    summary.textContent = `${formatCount(traces.length)} trace${traces.length === 1 ? '' : 's'}`;
    note.textContent = traces.length > 0 && traces.length >= results.limit
      ? `the limit of ${results.limit} was reached: narrow the search or raise the limit` : '';
    scatter.render(traces);
    rowsById.clear();
    if (traces.length === 0) {
      replace(list, h('p', { class: 'empty' }, 'No trace matches. Widen the time range or remove a filter.'));
      return;
    }
    const longest = Math.max(...traces.map((trace) => trace.durationNanos), 1);
    const now = Date.now();
    replace(list, traces.map((trace) => {
      const row = traceRow(trace, longest, now);
      rowsById.set(trace.traceId, row);
      row.addEventListener('mouseenter', () => scatter.highlight(trace.traceId, true));
      row.addEventListener('mouseleave', () => scatter.highlight(trace.traceId, false));
      return row;
    }));
  }

  /** Which form field an API parameter belongs to. */
  function fieldFor(parameter) {
    if (!parameter) return null;
    if (parameter === 'lookback' && fields.lookback.value === 'custom') return 'start';
    return fields[parameter] ? parameter : null;
  }

  function markInvalid(field, message) {
    fields[field]?.setAttribute('aria-invalid', 'true');
    fields[field]?.setAttribute('aria-describedby', 'search-error');
    showError(message);
    if (field === 'start' || field === 'end') range.hidden = false;
  }

  function showError(message) {
    formError.id = 'search-error';
    formError.textContent = message;
    formError.hidden = false;
  }

  function clearErrors() {
    formError.hidden = true;
    formError.textContent = '';
    for (const field of Object.values(fields)) {
      field.removeAttribute('aria-invalid');
      field.removeAttribute('aria-describedby');
    }
  }

  return {
    update,
    unmount() {
      inFlight?.abort();
      scatter.destroy();
    },
  };
}

/** One trace of the results: a link to its page. */
function traceRow(trace, longest, now) {
  const rootService = trace.rootService ?? 'unknown root';
  const rootOperation = trace.rootOperation ?? '(root span missing)';
  const width = `${Math.max(0.5, (trace.durationNanos / longest) * 100)}%`;
  const services = [...(trace.services ?? [])].sort((a, b) => b.spanCount - a.spanCount || a.name.localeCompare(b.name));
  return h('a', {
    class: `trace-row${trace.errorCount > 0 ? ' has-error' : ''}`, href: `/trace/${trace.traceId}`,
    data: { traceId: trace.traceId },
  },
  h('div', { class: 'title' }, h('span', { class: 'service' }, `${rootService}: `), rootOperation),
  h('div', { class: 'when', title: formatDateTime(trace.startMs) },
    formatDateTime(trace.startMs).slice(11), h('span', { class: 'faint' }, ` · ${formatAgo(trace.startMs, now)}`)),
  h('div', { class: 'facts' },
    h('span', {}, `${formatCount(trace.spanCount)} span${trace.spanCount === 1 ? '' : 's'}`),
    trace.errorCount > 0 ? h('span', { class: 'badge error' }, `${formatCount(trace.errorCount)} error${trace.errorCount === 1 ? '' : 's'}`) : null,
    h('code', { class: 'faint' }, shortId(trace.traceId))),
  h('div', { class: 'durbar' },
    h('span', { class: 'track' }, h('span', { class: 'fill', style: { width, display: 'block' } })),
    h('span', { class: 'value' }, formatDuration(trace.durationNanos))),
  h('div', { class: 'chips' }, services.map((service) => serviceChip(service.name, serviceColor(service.name),
    h('span', { class: 'count' }, ` ${service.spanCount}${service.errorCount ? ` · ${service.errorCount}!` : ''}`)))));
}
