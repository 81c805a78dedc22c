// The app shell's client-side router: maps `/search`, `/trace/{id}` and `/services` to their
// page modules, keeps the address bar the source of truth (History API, so deep links survive a
// reload and can be shared), turns same-origin link clicks into navigation without a page load,
// and owns the keys that work on every page.

import { h, replace, isTyping } from './dom.js';
import * as searchPage from './search.js';
import * as tracePage from './trace.js';
import * as servicesPage from './services.js';

const ROUTES = [
  { name: 'search', pattern: /^\/search\/?$/, page: searchPage },
  { name: 'services', pattern: /^\/services\/?$/, page: servicesPage },
  { name: 'trace', pattern: /^\/trace\/([^/]+)\/?$/, page: tracePage },
];

const root = document.getElementById('page');
let current = null; // {route, key, view}

function match(pathname) {
  for (const route of ROUTES) {
    const found = route.pattern.exec(pathname);
    if (found) return { route, params: found.slice(1).map(decodeURIComponent) };
  }
  return null;
}

/** What the pages can call: navigation and the document title. */
const context = {
  navigate,
  setTitle(text) {
    document.title = text ? `${text} · kiseki` : 'kiseki';
  },
};

/** Goes to `href` (a path with query), adding a history entry unless `replace` is set. */
export function navigate(href, { replace: replaceEntry = false } = {}) {
  const url = new URL(href, location.origin);
  if (url.origin !== location.origin) {
    location.assign(url);
    return;
  }
  if (url.pathname + url.search + url.hash === location.pathname + location.search + location.hash) {
    if (!replaceEntry) render();
    return;
  }
  if (replaceEntry) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

function render() {
  const url = new URL(location.href);
  const found = match(url.pathname);
  for (const link of document.querySelectorAll('[data-nav]')) {
    const active = found && link.dataset.nav === found.route.name;
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const key = found ? `${found.route.name}:${found.params.join('/')}` : `missing:${url.pathname}`;
  // Same page, other parameters (a new search, another selected span): the page updates itself.
  if (current && current.key === key && current.view?.update) {
    current.view.update(url);
    return;
  }
  current?.view?.unmount?.();
  replace(root);
  if (!found) {
    context.setTitle('Not found');
    replace(root, h('section', { class: 'empty-page' },
      h('h1', {}, 'There is no page here'),
      h('p', {}, 'Go to ', h('a', { href: '/search' }, 'search'), ' or ', h('a', { href: '/services' }, 'services'), '.')));
    current = { key, view: null };
    return;
  }
  const view = found.route.page.mount(root, url, found.params, context);
  current = { key, view };
}

/** Same-origin links to a routed page navigate in place; modified clicks keep their meaning. */
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target instanceof Element ? event.target.closest('a') : null;
  if (!link || link.hasAttribute('download') || (link.target && link.target !== '_self')) return;
  const href = link instanceof SVGAElement ? link.href.baseVal : link.getAttribute('href');
  if (!href) return;
  const url = new URL(href, location.href);
  if (url.origin !== location.origin || !match(url.pathname)) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener('popstate', render);

// `/` focuses the page's search box (the trace page's find box, the search page's first field).
document.addEventListener('keydown', (event) => {
  if (event.key !== '/' || isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = root.querySelector('[data-slash-focus]');
  if (target) {
    event.preventDefault();
    target.focus();
    target.select?.();
  }
});

// The header's "open a trace by id" box.
document.querySelector('form.goto')?.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = event.currentTarget.elements.traceId;
  const id = input.value.trim().toLowerCase();
  if (!/^[0-9a-f]{1,32}$/.test(id)) {
    input.setCustomValidity('a trace id is up to 32 hex digits');
    input.reportValidity();
    return;
  }
  input.setCustomValidity('');
  input.value = '';
  navigate(`/trace/${id}`);
});
document.querySelector('form.goto input')?.addEventListener('input', (event) => event.target.setCustomValidity(''));

render();
