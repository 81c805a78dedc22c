// The services page: every service kiseki has seen, with its operations and their span kinds;
// each links to a search already filtered on it. A filter box narrows the list as you type (the
// text in the URL's `q`, so a filtered view can be shared too).

import * as api from './api.js';
import { h, replace, serviceChip } from './dom.js';
import { formatCount, serviceColor } from './format.js';

export function mount(root, url, _params, context) {
  context.setTitle('Services');
  const filter = h('input', {
    type: 'search', placeholder: 'Filter services and operations', 'aria-label': 'filter services and operations',
    'data-slash-focus': true, autocomplete: 'off', value: url.searchParams.get('q') ?? '',
    oninput: () => {
      const params = new URLSearchParams(location.search);
      if (filter.value) params.set('q', filter.value);
      else params.delete('q');
      const query = params.toString();
      history.replaceState(null, '', `/services${query ? `?${query}` : ''}`);
      draw();
    },
  });
  const count = h('span', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'service-list' }, h('p', { class: 'loading' }, 'Loading services…'));
  root.append(h('section', { class: 'services-page' },
    h('div', { class: 'services-head' }, h('h1', {}, 'Services'), filter, count),
    list));
  let services = null;

  api.services().then((answer) => {
    services = answer;
    draw();
  }, (error) => {
    replace(list, h('p', { class: 'error-box', role: 'alert' }, `services could not be loaded: ${error.message}`));
  });

  function draw() {
    if (!services) return;
    const words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    const matches = (text) => words.every((word) => text.toLowerCase().includes(word));
    const shown = [];
    for (const service of services) {
      const operations = service.operations ?? [];
      const serviceMatches = matches(service.name);
      const ops = serviceMatches ? operations : operations.filter((op) => matches(`${service.name} ${op.name} ${op.kind}`));
      if (serviceMatches || ops.length > 0) shown.push({ service, ops });
    }
    count.textContent = `${formatCount(shown.length)} of ${formatCount(services.length)} services`;
    if (services.length === 0) {
      replace(list, h('p', { class: 'empty' }, 'No service has sent spans yet. Point a tracer at kiseki (see the README), or start it with --demo.'));
      return;
    }
    if (shown.length === 0) {
      replace(list, h('p', { class: 'empty' }, 'Nothing matches the filter.'));
      return;
    }
    replace(list, shown.map(({ service, ops }) => serviceCard(service, ops)));
  }

  return {
    update(newUrl) {
      const q = newUrl.searchParams.get('q') ?? '';
      if (q !== filter.value) {
        filter.value = q;
        draw();
      }
    },
  };
}

function searchLink(params) {
  return `/search?${new URLSearchParams(params)}`;
}

/** Operations a card shows before "show all": a service with thousands stays readable. */
const OPERATIONS_SHOWN = 25;

function serviceCard(service, operations) {
  const total = (service.operations ?? []).length;
  const sorted = [...operations].sort((a, b) => a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind));
  const body = h('tbody', {});
  const showRows = (count) => replace(body, sorted.slice(0, count).map((op) => operationRow(service, op)),
    sorted.length > count
      ? h('tr', {}, h('td', { colspan: 3 }, h('button', {
        class: 'link', type: 'button', onclick: () => showRows(sorted.length),
      }, `Show all ${formatCount(sorted.length)} operations`)))
      : null);
  showRows(OPERATIONS_SHOWN);
  return h('article', { class: 'service-card', data: { service: service.name } },
    h('header', {},
      h('h2', {}, serviceChip(service.name, serviceColor(service.name))),
      h('span', { class: 'muted' }, `${formatCount(total)} operation${total === 1 ? '' : 's'}`),
      h('span', { class: 'actions' }, h('a', { href: searchLink({ service: service.name }) }, 'Search traces →'))),
    sorted.length > 0
      ? h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Operation'), h('th', {}, 'Kind'), h('th', { class: 'num' }, 'Traces'))),
        body)
      : null);
}

function operationRow(service, op) {
  return h('tr', {},
    h('td', {}, h('a', { href: searchLink({ service: service.name, operation: op.name }) }, op.name)),
    h('td', {}, h('span', { class: 'kind' }, op.kind)),
    h('td', { class: 'num' }, h('a', {
      href: searchLink({ service: service.name, operation: op.name, errorsOnly: 'true' }),
      title: `traces where ${op.name} failed`,
    }, 'with errors')));
}
