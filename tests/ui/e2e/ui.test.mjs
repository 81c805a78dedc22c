// End-to-end tests of kiseki's web UI in Debian's headless Chromium, driven by playwright-core.
// They expect a running `kiseki serve` at KISEKI_URL holding the traces of ../fixtures.mjs and
// some seeded loadgen traffic (scripts/ui_test.sh arranges both), and save a screenshot of each
// page under UI_ARTIFACTS. Waits use Playwright's own (generous) timeouts; nothing asserts how
// long anything took.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import {
  BIG_LAST_SPAN_NAME, BIG_SPAN_COUNT, BIG_TRACE, LINKED_TRACE, MISSING_TRACE, SKEW_TRACE, SPANS,
} from '../fixtures.mjs';

const BASE = process.env.KISEKI_URL ?? 'http://127.0.0.1:16686';
const ARTIFACTS = process.env.UI_ARTIFACTS ?? join(process.cwd(), 'ui-artifacts');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
mkdirSync(ARTIFACTS, { recursive: true });

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
});

after(async () => {
  await browser?.close();
});

/** A fresh page; page errors fail the test; a screenshot is saved when the test fails. */
async function withPage(name, body) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  try {
    await body(page);
    assert.deepEqual(errors, [], 'the page threw');
  } catch (error) {
    await page.screenshot({ path: join(ARTIFACTS, `FAILED-${name}.png`) }).catch(() => {});
    throw error;
  } finally {
    await context.close();
  }
}

const shot = (page, name) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
const row = (page, spanId) => page.locator(`.wf-row[data-span-id="${spanId}"]`);
const details = (page) => page.locator('aside.details');
const attributeValue = (page, key) => details(page).locator(`table.attributes tr[data-key="${key}"] td.value`).first();

describe('search page', () => {
  test('/ redirects to the search page, which lists recent traces with a scatter', () => withPage('search', async (page) => {
    await page.goto(`${BASE}/`);
    assert.equal(new URL(page.url()).pathname, '/search');
    await page.locator('a.trace-row').first().waitFor();
    assert.ok(await page.locator('.scatter svg circle').count() > 0, 'the scatter has dots');
    assert.equal(await page.title(), 'Search · kiseki');
    await shot(page, 'search');
  }));

  test('the form puts the search in the URL and finds the skewed trace', () => withPage('search-form', async (page) => {
    await page.goto(`${BASE}/search`);
    await page.locator('#f-service option[value="ui-gateway"]').waitFor({ state: 'attached' });
    await page.selectOption('#f-service', 'ui-gateway');
    await page.selectOption('#f-operation', 'GET /orders/{id}');
    await page.fill('#f-attr', 'ui.test.marker=e2e');
    await page.press('#f-attr', 'Enter');
    await page.selectOption('#f-lookback', '6h');
    await page.check('#f-errors');
    await page.click('.search-form button[type="submit"]');
    await page.waitForURL((url) => url.searchParams.get('service') === 'ui-gateway');
    const params = new URL(page.url()).searchParams;
    assert.equal(params.get('operation'), 'GET /orders/{id}');
    assert.deepEqual(params.getAll('attr'), ['ui.test.marker=e2e']);
    assert.equal(params.get('lookback'), '6h');
    assert.equal(params.get('errorsOnly'), 'true');
    const result = page.locator(`a.trace-row[data-trace-id="${SKEW_TRACE}"]`);
    await result.waitFor();
    assert.equal(await page.locator('a.trace-row').count(), 1);
    assert.match(await result.innerText(), /GET \/orders\/\{id\}/);
    assert.match(await result.innerText(), /3 errors/);
    assert.match(await result.innerText(), /ui-inventory/);

    // Reload: the form comes back from the URL.
    await page.reload();
    await page.locator(`a.trace-row[data-trace-id="${SKEW_TRACE}"]`).waitFor();
    assert.equal(await page.inputValue('#f-service'), 'ui-gateway');
    assert.equal(await page.inputValue('#f-lookback'), '6h');
    assert.equal(await page.isChecked('#f-errors'), true);
    assert.match(await page.locator('.filter-chips').innerText(), /ui\.test\.marker=e2e/);
  }));

  test('an invalid parameter shows the API message beside the form and marks the field', () => withPage('search-error', async (page) => {
    await page.goto(`${BASE}/search`);
    await page.fill('#f-min', 'soon');
    await page.click('.search-form button[type="submit"]');
    const error = page.locator('.search-form .error-box');
    await error.waitFor();
    assert.match(await error.innerText(), /minDuration/);
    assert.equal(await page.getAttribute('#f-min', 'aria-invalid'), 'true');
    await shot(page, 'search-error');
  }));

  test('a custom range goes into the URL as start and end in milliseconds', () => withPage('search-range', async (page) => {
    await page.goto(`${BASE}/search?service=ui-gateway`);
    await page.selectOption('#f-lookback', 'custom');
    await page.locator('#f-start').waitFor();
    const local = (ms) => {
      const d = new Date(ms);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };
    const from = Date.now() - 3 * 3600_000;
    const to = Date.now() + 3600_000;
    await page.fill('#f-start', local(from));
    await page.fill('#f-end', local(to));
    await page.click('.search-form button[type="submit"]');
    await page.waitForURL((url) => url.searchParams.has('start'));
    const params = new URL(page.url()).searchParams;
    assert.equal(Number(params.get('start')), Math.floor(from / 1000) * 1000);
    assert.equal(Number(params.get('end')), Math.floor(to / 1000) * 1000);
    assert.equal(params.get('lookback'), null);
    await page.locator(`a.trace-row[data-trace-id="${SKEW_TRACE}"]`).waitFor();
  }));

  test('results sort by span count', () => withPage('search-sort', async (page) => {
    await page.goto(`${BASE}/search?lookback=6h&limit=1000&sort=most-spans`);
    await page.locator('a.trace-row').first().waitFor();
    assert.equal(await page.inputValue('#f-sort'), 'most-spans');
    const first = await page.locator('a.trace-row').first().getAttribute('data-trace-id');
    assert.equal(first, BIG_TRACE, 'the 10 000-span trace comes first');
  }));

  test('a click on a result opens its trace', () => withPage('search-open', async (page) => {
    await page.goto(`${BASE}/search?service=ui-gateway&lookback=6h`);
    await page.locator(`a.trace-row[data-trace-id="${SKEW_TRACE}"]`).click();
    await page.waitForURL(`**/trace/${SKEW_TRACE}`);
    await page.locator('.trace-header h1').waitFor();
    assert.match(await page.locator('.trace-header h1').innerText(), /GET \/orders\/\{id\}/);
  }));
});

describe('trace page', () => {
  test('waterfall: collapse, expand, select a span, read its attributes, the skew mark', () => withPage('trace', async (page) => {
    await page.goto(`${BASE}/trace/${SKEW_TRACE}`);
    await row(page, SPANS.root).waitFor();
    assert.match(await page.title(), /ui-gateway: GET \/orders\/\{id\}/);
    const facts = await page.locator('.trace-header .facts').innerText();
    assert.match(facts, /Spans\s*5/);
    assert.match(facts, /Depth\s*4/);
    assert.match(facts, /Errors\s*3/);
    assert.equal(await page.locator('.wf-row').count(), 5);

    // Collapse the client span: its two descendants go; expand: they come back.
    await row(page, SPANS.client).locator('button.toggle').click();
    await row(page, SPANS.skewed).waitFor({ state: 'detached' });
    assert.equal(await page.locator('.wf-row').count(), 3);
    assert.match(await row(page, SPANS.client).innerText(), /\+2/);
    await row(page, SPANS.client).locator('button.toggle').click();
    await row(page, SPANS.skewed).waitFor();
    assert.equal(await page.locator('.wf-row').count(), 5);

    // The clock-skewed span carries a mark, and its details say what was done.
    assert.match(await row(page, SPANS.skewed).locator('.adj').innerText(), /skew \+85ms/);
    assert.match(await page.locator('.adjustments-note').innerText(), /2 spans were adjusted for clock skew/);

    await row(page, SPANS.skewed).click();
    await page.waitForURL((url) => url.searchParams.get('span') === SPANS.skewed);
    await details(page).waitFor();
    assert.match(await details(page).locator('h2').innerText(), /ui-inventory: GET \/stock\/\{sku\}/);
    assert.equal(await attributeValue(page, 'stock.sku').innerText(), 'SKU-4242');
    assert.equal(await attributeValue(page, 'http.response.status_code').innerText(), '503');
    const text = await details(page).innerText();
    assert.match(text, /Shifted \+85ms: clock skew: started 60ms before its parent/);
    assert.match(text, /error: stock service unavailable/);
    assert.match(text, /StockUnavailable/, 'the exception event and its attributes');
    assert.match(text, /30ms into the span/, 'the event offset within its span');
    assert.match(text, /Self time\s*20ms/);
    assert.ok(await page.locator('.wf-row.on-critical').count() >= 4, 'the critical path is marked');
    await shot(page, 'trace');

    // Deep link: a reload keeps the trace and the selected span.
    await page.reload();
    await details(page).waitFor();
    assert.equal(await attributeValue(page, 'stock.sku').innerText(), 'SKU-4242');
    assert.equal(await row(page, SPANS.skewed).getAttribute('aria-selected'), 'true');

    // Links open the linked trace, with the linked span selected.
    await details(page).locator(`a[href^="/trace/${LINKED_TRACE}"]`).click();
    await page.waitForURL(`**/trace/${LINKED_TRACE}?span=${SPANS.worker}`);
    await details(page).waitFor();
    assert.match(await details(page).locator('h2').innerText(), /ui-worker: restock process/);
    // Back returns to the first trace.
    await page.goBack();
    await row(page, SPANS.root).waitFor();
    assert.equal(new URL(page.url()).pathname, `/trace/${SKEW_TRACE}`);
  }));

  test('keyboard: / finds, arrows move the selection, Enter collapses', () => withPage('trace-keys', async (page) => {
    await page.goto(`${BASE}/trace/${SKEW_TRACE}`);
    await row(page, SPANS.root).waitFor();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label')), 'find spans');
    await page.keyboard.type('SELECT');
    await page.keyboard.press('Enter');
    await page.waitForURL((url) => url.searchParams.get('span') === SPANS.query);
    await page.locator('.wf-row.match').first().waitFor();
    await page.locator('.wf-scroll').focus();
    await page.keyboard.press('Home');
    await page.waitForURL((url) => url.searchParams.get('span') === SPANS.root);
    await page.keyboard.press('ArrowDown');
    await page.waitForURL((url) => url.searchParams.get('span') === SPANS.client);
    await page.keyboard.press('Enter');
    await row(page, SPANS.skewed).waitFor({ state: 'detached' });
    await page.keyboard.press('Enter');
    await row(page, SPANS.skewed).waitFor();
    await page.keyboard.press('Escape');
    await details(page).waitFor({ state: 'hidden' });
  }));

  test('statistics tab and raw download', () => withPage('trace-stats', async (page) => {
    await page.goto(`${BASE}/trace/${SKEW_TRACE}`);
    await row(page, SPANS.root).waitFor();
    await page.getByRole('tab', { name: 'Statistics' }).click();
    const table = page.locator('.stats table');
    await table.waitFor();
    const text = await table.innerText();
    assert.match(text, /ui-gateway/);
    assert.match(text, /GET \/stock\/\{sku\}/);
    assert.match(text, /2 services/);
    await shot(page, 'trace-statistics');

    const href = await page.locator('a[download]').getAttribute('href');
    const raw = await page.request.get(`${BASE}${href}`);
    assert.equal(raw.status(), 200);
    const body = await raw.json();
    const spans = body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    assert.equal(spans.length, 5, 'the raw download holds the stored spans');
  }));

  test('a trace of 10 000 spans renders few rows and scrolls to its end', () => withPage('big-trace', async (page) => {
    await page.goto(`${BASE}/trace/${BIG_TRACE}`);
    await page.locator('.wf-row').first().waitFor();
    assert.match(await page.locator('.trace-header .facts').innerText(), /Spans\s*10\s000/);
    const rendered = await page.locator('.wf-row').count();
    assert.ok(rendered > 10 && rendered < 200, `only the visible rows exist (${rendered})`);
    const height = await page.locator('.wf-spacer').evaluate((el) => el.getBoundingClientRect().height);
    assert.equal(height, BIG_SPAN_COUNT * 22, 'the list is as tall as all rows');
    await shot(page, 'big-trace');

    await page.locator('.wf-scroll').evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.locator('.wf-row', { hasText: BIG_LAST_SPAN_NAME }).waitFor();
    assert.ok(await page.locator('.wf-row').count() < 200);

    // A time window chosen on the minimap: the axis shows it.
    const minimap = page.locator('.minimap');
    const box = await minimap.boundingBox();
    const axisBefore = await page.locator('.wf-header .axis').innerText();
    await page.mouse.move(box.x + box.width * 0.40, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.45, box.y + 20, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction((before) => document.querySelector('.wf-header .axis').innerText !== before, axisBefore);
    await page.locator('.wf-row', { hasText: BIG_LAST_SPAN_NAME }).waitFor();
    await shot(page, 'big-trace-scrolled-zoomed');
  }));

  test('an unknown trace says so', () => withPage('trace-missing', async (page) => {
    await page.goto(`${BASE}/trace/${MISSING_TRACE}`);
    await page.getByText(`Trace ${MISSING_TRACE} was not found`).waitFor();
    assert.equal(await page.title(), 'Trace not found · kiseki');
  }));
});

describe('services page', () => {
  test('lists services with operations and links to a pre-filled search', () => withPage('services', async (page) => {
    await page.goto(`${BASE}/services`);
    const card = page.locator('.service-card[data-service="ui-gateway"]');
    await card.waitFor();
    const text = await card.innerText();
    assert.match(text, /GET \/orders\/\{id\}/);
    assert.match(text, /server/);
    assert.match(text, /render error page/);
    assert.ok(await page.locator('.service-card[data-service="frontend"]').count() === 1, 'loadgen traffic is listed');
    assert.equal(await page.title(), 'Services · kiseki');
    await shot(page, 'services');

    // A service with many operations shows a few until asked for all.
    const big = page.locator('.service-card[data-service="big-orders"]');
    assert.equal(await big.locator('tbody tr').count(), 26, '25 operations and the "show all" row');
    await big.getByRole('button', { name: /Show all \d+ operations/ }).click();
    assert.ok(await big.locator('tbody tr').count() > 100);

    await page.fill('input[type="search"]', 'sku');
    await page.locator('.service-card[data-service="ui-gateway"]').waitFor({ state: 'detached' });
    assert.equal(await page.locator('.service-card').count(), 1, 'the filter hides what does not match');
    assert.equal(await page.locator('.service-card[data-service="ui-inventory"]').count(), 1);
    assert.equal(new URL(page.url()).searchParams.get('q'), 'sku');

    await page.locator('.service-card[data-service="ui-inventory"]').getByRole('link', { name: 'GET /stock/{sku}' }).click();
    await page.waitForURL((url) => url.pathname === '/search' && url.searchParams.get('operation') === 'GET /stock/{sku}');
    await page.locator(`a.trace-row[data-trace-id="${SKEW_TRACE}"]`).waitFor();
    assert.equal(await page.inputValue('#f-service'), 'ui-inventory');
    assert.equal(await page.inputValue('#f-operation'), 'GET /stock/{sku}');
  }));
});
