// Page load of kiseki's web UI in headless Chromium, against a running server (KISEKI_URL): the
// time from navigation start until the search page lists its traces, and until a trace page
// shows its waterfall. A benchmark, not a test: it prints p50 / p90 / max of each.
// Usage (from tests/ui, after `npm ci`): KISEKI_URL=http://127.0.0.1:16686 node bench/page_load.mjs [rounds]

import { chromium } from 'playwright-core';

const BASE = process.env.KISEKI_URL ?? 'http://127.0.0.1:16686';
const ROUNDS = Number(process.argv[2] ?? 10);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});

/** Milliseconds from navigation start until `selector` is visible, in a fresh context. */
async function load(url, selector) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(url);
  await page.locator(selector).first().waitFor();
  const ms = await page.evaluate(() => performance.now());
  await context.close();
  return ms;
}

function summary(name, timings) {
  const sorted = [...timings].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
  console.log(`| ${name} | ${at(0.5).toFixed(0)} | ${at(0.9).toFixed(0)} | ${sorted.at(-1).toFixed(0)} |`);
}

const found = await (await fetch(`${BASE}/api/kiseki/v1/search?lookback=6h&limit=50`)).json();
const traceIds = found.traces.map((t) => t.traceId);
if (traceIds.length === 0) throw new Error('no traces in the last 6 hours');

const searches = [];
const traces = [];
for (let i = 0; i < ROUNDS; i++) {
  searches.push(await load(`${BASE}/search?lookback=1h`, 'a.trace-row'));
  traces.push(await load(`${BASE}/trace/${traceIds[i % traceIds.length]}`, '.wf-row'));
}
console.log('| page (navigation start → content shown) | p50 ms | p90 ms | max ms |\n|---|---:|---:|---:|');
summary('search, last hour, 20 results', searches);
summary('trace', traces);
await browser.close();
