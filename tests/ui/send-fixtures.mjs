// Sends the browser tests' known traces (fixtures.mjs) to kiseki's OTLP HTTP receiver.
// Usage: node send-fixtures.mjs http://127.0.0.1:4318
import { bigTrace, smallTraces } from './fixtures.mjs';

const base = process.argv[2];
if (!base) {
  console.error('usage: node send-fixtures.mjs <otlp http base url>');
  process.exit(2);
}

async function send(name, payload) {
  const response = await fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${name}: ${response.status} ${text}`);
  const spans = payload.resourceSpans.reduce((n, r) => n + r.scopeSpans.reduce((m, s) => m + s.spans.length, 0), 0);
  console.log(`sent ${name}: ${spans} spans`);
}

await send('skewed and linked traces', smallTraces());
await send('big trace', bigTrace());
