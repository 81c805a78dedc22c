// Unit tests of the trace page's pure logic (trace-model.js) and the shared formatting
// (format.js), run with node's test runner: no browser needed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  buildTrace, findSpans, markCriticalPath, operationStats, selfTime, visibleRows,
} from '../../../crates/kiseki-server/ui/trace-model.js';
import {
  formatDuration, parseGoDuration, serviceColor, stableHash, tickStep, ticks, unixNanoToMs,
} from '../../../crates/kiseki-server/ui/format.js';

let nextIndex = 0;
function span(id, parent, start, duration, extra = {}) {
  nextIndex++;
  return {
    spanId: id, parentSpanId: parent, name: `op-${id}`, service: extra.service ?? 'svc',
    offsetNanos: start, durationNanos: duration, status: { code: extra.error ? 'error' : 'unset', message: '' },
    attributes: extra.attributes ?? [], resource: [], events: [], links: [],
  };
}

function trace(spans, extra = {}) {
  return buildTrace({ traceId: 't', startUnixNano: '1700000000000000000', durationNanos: 0, spans, adjustments: [], warnings: [], ...extra });
}

const sections = (model) => Object.fromEntries(model.nodes.map((node) => [node.id, node.critical]));

test('the tree: parents, depth, tree order, descendants and self time', () => {
  const model = trace([
    span('c', 'a', 50, 40),
    span('a', null, 0, 100),
    span('d', 'c', 55, 10),
    span('b', 'a', 10, 50),
  ]);
  assert.deepEqual(model.nodes.map((n) => n.id), ['a', 'b', 'c', 'd']);
  assert.deepEqual(model.nodes.map((n) => n.depth), [0, 1, 1, 2]);
  assert.equal(model.depth, 3);
  assert.equal(model.root.id, 'a');
  assert.equal(model.byId.get('a').descendants, 3);
  // a: children cover 10..90 → 20 left; c: d covers 10 of 40.
  assert.deepEqual(model.nodes.map((n) => n.selfTime), [20, 50, 30, 10]);
});

test('self time clamps children to the parent and counts overlaps once', () => {
  const model = trace([
    span('p', null, 100, 100),
    span('early', 'p', 50, 100), // covers 100..150
    span('overlap', 'p', 120, 40), // 120..160, overlapping early
    span('late', 'p', 190, 50), // covers 190..200
  ]);
  assert.equal(selfTime(model.byId.get('p')), 100 - (60 + 10));
});

test('critical path: the last-finishing child, then what finished before it started', () => {
  const model = trace([
    span('a', null, 0, 100),
    span('b', 'a', 10, 50), // overlaps c: only what ends before c starts counts
    span('c', 'a', 50, 40),
    span('d', 'c', 55, 10),
  ]);
  assert.deepEqual(sections(model), {
    a: [[0, 50], [90, 100]],
    b: [],
    c: [[50, 55], [65, 90]],
    d: [[55, 65]],
  });
  const total = model.nodes.flatMap((n) => n.critical).reduce((sum, [s, e]) => sum + e - s, 0);
  assert.equal(total, 100, 'the sections cover the root exactly once');
});

test('critical path: sequential children that touch are all on the path', () => {
  const model = trace([
    span('r', null, 0, 30),
    span('x', 'r', 0, 10),
    span('y', 'r', 10, 10),
    span('z', 'r', 20, 10),
  ]);
  assert.deepEqual(sections(model), { r: [], x: [[0, 10]], y: [[10, 20]], z: [[20, 30]] });
});

test('critical path: a child outliving its parent is clamped; a child outside it is ignored', () => {
  const model = trace([
    span('r', null, 0, 100),
    span('long', 'r', 60, 100), // clamped to 60..100
    span('after', 'r', 150, 10), // does not overlap the root
    span('grand', 'long', 120, 20), // outside the clamped parent
  ]);
  assert.deepEqual(sections(model), { r: [[0, 60]], long: [[60, 100]], after: [], grand: [] });
});

test('critical path: a fresh walk gives the same sections', () => {
  const model = trace([span('a', null, 0, 100), span('b', 'a', 10, 50), span('c', 'a', 50, 40)]);
  const first = sections(model);
  for (const node of model.nodes) node.critical = [];
  const path = markCriticalPath(model.root);
  assert.deepEqual(sections(model), first);
  assert.deepEqual(path.map((s) => [s.node.id, s.start, s.end]), [['a', 90, 100], ['c', 50, 90], ['a', 0, 50]]);
});

test('critical path: zero-length children and long chains finish without recursion', () => {
  const spans = [span('n0', null, 0, 100_000)];
  for (let i = 1; i < 20_000; i++) spans.push(span(`n${i}`, `n${i - 1}`, i, 100_000 - 2 * i));
  spans.push(span('zero', 'n0', 50, 0));
  const model = trace(spans);
  assert.equal(model.depth, 20_000);
  const total = model.nodes.flatMap((n) => n.critical).reduce((sum, [s, e]) => sum + e - s, 0);
  assert.equal(total, 100_000, 'the sections cover the root exactly once');
  assert.deepEqual(model.byId.get('n19999').critical, [[19_999, 80_001]]);
  assert.deepEqual(model.byId.get('zero').critical, []);
});

test('spans whose parents form a cycle are still shown, once each', () => {
  const model = trace([span('a', 'b', 0, 10), span('b', 'a', 0, 10), span('r', null, 0, 20)]);
  assert.equal(model.nodes.length, 3);
  assert.deepEqual(new Set(model.nodes.map((n) => n.id)), new Set(['a', 'b', 'r']));
});

test('a span whose parent is missing becomes a root; the real root is the main one', () => {
  const model = trace([span('orphan', 'gone', 0, 200), span('root', null, 5, 50)]);
  assert.equal(model.roots.length, 2);
  assert.equal(model.root.id, 'root');
});

test('visible rows follow the collapse state', () => {
  const model = trace([span('a', null, 0, 100), span('b', 'a', 10, 50), span('c', 'b', 20, 10), span('d', 'a', 70, 10)]);
  assert.deepEqual(visibleRows(model, new Set()).map((n) => n.id), ['a', 'b', 'c', 'd']);
  assert.deepEqual(visibleRows(model, new Set([model.byId.get('b')])).map((n) => n.id), ['a', 'b', 'd']);
  assert.deepEqual(visibleRows(model, new Set([model.byId.get('a')])).map((n) => n.id), ['a']);
});

test('statistics group by service and operation', () => {
  const model = trace([
    span('a', null, 0, 100, { service: 'front' }),
    span('b', 'a', 0, 30, { service: 'back', error: true }),
    span('c', 'a', 50, 30, { service: 'back' }),
  ]);
  model.nodes.forEach((n) => { n.name = n.service === 'back' ? 'query' : 'page'; });
  const stats = operationStats(model);
  assert.deepEqual(stats.map((s) => [s.service, s.operation, s.count, s.total, s.self, s.errors]), [
    ['back', 'query', 2, 60, 60, 1],
    ['front', 'page', 1, 100, 40, 0],
  ]);
});

test('find matches every word in service, name, id or attributes', () => {
  const model = trace([
    span('a1', null, 0, 10, { service: 'checkout', attributes: [{ key: 'http.route', type: 'string', value: '/pay' }] }),
    span('b2', 'a1', 0, 5, { service: 'cart' }),
  ]);
  assert.deepEqual(findSpans(model, 'checkout').map((n) => n.id), ['a1']);
  assert.deepEqual(findSpans(model, 'http.route=/pay').map((n) => n.id), ['a1']);
  assert.deepEqual(findSpans(model, 'CART b2').map((n) => n.id), ['b2']);
  assert.deepEqual(findSpans(model, 'cart checkout'), []);
  assert.deepEqual(findSpans(model, '   '), []);
});

test('adjustments are attached to their spans and counted', () => {
  const model = trace([span('a', null, 0, 10), span('b', 'a', 0, 5)], {
    adjustments: [{ spanId: 'b', kind: 'clock_skew', message: 'moved', shiftNanos: 5 }],
  });
  assert.equal(model.byId.get('b').adjustments.length, 1);
  assert.equal(model.adjustedCount, 1);
});

test('durations read as people write them', () => {
  assert.equal(formatDuration(0), '0ns');
  assert.equal(formatDuration(850), '850ns');
  assert.equal(formatDuration(12_400), '12.4µs');
  assert.equal(formatDuration(3_050_000), '3.05ms');
  assert.equal(formatDuration(120_000_000), '120ms');
  assert.equal(formatDuration(1_500_000_000), '1.5s');
  assert.equal(formatDuration(125e9), '2m 05s');
  assert.equal(formatDuration(-85e6), '-85ms');
  assert.equal(formatDuration(999.7e6), '1s', 'not 1000ms');
  assert.equal(formatDuration(999_700), '1ms');
  assert.equal(formatDuration(999.6), '1µs');
  assert.equal(formatDuration(59.999e9), '1m 00s');
});

test('Go durations parse as the API reads them', () => {
  assert.equal(parseGoDuration('250ms'), 250e6);
  assert.equal(parseGoDuration('1.5s'), 1.5e9);
  assert.equal(parseGoDuration('1h30m'), 5400e9);
  assert.ok(Number.isNaN(parseGoDuration('soon')));
  assert.ok(Number.isNaN(parseGoDuration('5 s')));
});

test('axis ticks are 1, 2 or 5 times a power of ten', () => {
  assert.equal(tickStep(1000, 10), 100);
  assert.equal(tickStep(1000, 3), 500);
  assert.equal(tickStep(37_700_000, 8), 5_000_000);
  assert.deepEqual(ticks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
});

test('Unix nanoseconds beyond 2^53 convert to milliseconds exactly enough', () => {
  assert.equal(unixNanoToMs('1700000000123456789'), 1700000000123.4568);
  assert.ok(Number.isNaN(unixNanoToMs('not a number')));
});

test('service colours are stable and differ between services', () => {
  assert.equal(stableHash('checkout'), stableHash('checkout'));
  assert.deepEqual(serviceColor('checkout'), serviceColor('checkout'));
  const names = ['frontend', 'checkout', 'cart', 'payment', 'shipping', 'email', 'quote', 'currency'];
  const bars = new Set(names.map((name) => serviceColor(name).bar));
  assert.ok(bars.size >= 6, `most services get their own colour (${bars.size} of ${names.length})`);
});
