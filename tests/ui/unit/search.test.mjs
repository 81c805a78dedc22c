// Unit tests of the search page's URL handling: which page parameters go to the API.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SORTS, apiParameters } from '../../../crates/kiseki-server/ui/search.js';

const api = (query) => apiParameters(new URLSearchParams(query)).toString();

test('the page URL goes to the API as it is, without the sort and empty fields', () => {
  assert.equal(
    api('service=checkout&operation=POST&attr=a%3D1&attr=b%3D2&minDuration=&errorsOnly=true&sort=longest&limit=50'),
    'service=checkout&operation=POST&attr=a%3D1&attr=b%3D2&errorsOnly=true&limit=50',
  );
});

test('a start or end wins over the lookback, as the API says', () => {
  assert.equal(api('lookback=6h&start=1000&end=2000'), 'start=1000&end=2000');
  assert.equal(api('lookback=6h'), 'lookback=6h');
  assert.equal(api('lookback=custom'), '');
});

test('unknown parameters stay in the page', () => {
  assert.equal(api('q=x&span=abc&service=cart'), 'service=cart');
});

test('every sort orders traces', () => {
  const traces = [
    { startMs: 2, durationNanos: 5, spanCount: 1, errorCount: 0 },
    { startMs: 1, durationNanos: 9, spanCount: 7, errorCount: 2 },
    { startMs: 3, durationNanos: 1, spanCount: 3, errorCount: 1 },
  ];
  const order = (key) => [...traces].sort(SORTS[key][1]).map((t) => t.startMs);
  assert.deepEqual(order('newest'), [3, 2, 1]);
  assert.deepEqual(order('oldest'), [1, 2, 3]);
  assert.deepEqual(order('longest'), [1, 2, 3]);
  assert.deepEqual(order('shortest'), [3, 2, 1]);
  assert.deepEqual(order('most-spans'), [1, 3, 2]);
  assert.deepEqual(order('most-errors'), [1, 3, 2]);
});
