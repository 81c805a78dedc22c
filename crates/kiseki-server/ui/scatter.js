// The search results' duration-over-time scatter, in SVG: one dot per trace (x its start, y its
// duration, size its span count, colour its root service, a red ring for errors); a click opens
// the trace. Redrawn when its box changes size.

import { s, replace } from './dom.js';
import { formatClock, formatDateTime, formatDuration, serviceColor, ticks } from './format.js';

const MARGIN = { top: 10, right: 14, bottom: 22, left: 58 };

/** A scatter in `box`; `open(traceId)` on click, `hover(traceId, on)` as the pointer moves. */
export function createScatter(box, { open, hover }) {
  let traces = [];
  const dots = new Map();
  const observer = new ResizeObserver(() => draw());
  observer.observe(box);

  function draw() {
    dots.clear();
    const width = box.clientWidth;
    const height = box.clientHeight;
    if (width <= 0 || height <= 0) return;
    const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `${traces.length} traces by start time and duration` });
    const plotW = Math.max(10, width - MARGIN.left - MARGIN.right);
    const plotH = Math.max(10, height - MARGIN.top - MARGIN.bottom);
    if (traces.length === 0) {
      svg.append(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle', class: 'empty-note' }, 'no traces'));
      replace(box, svg);
      return;
    }
    let t0 = Math.min(...traces.map((t) => t.startMs));
    let t1 = Math.max(...traces.map((t) => t.startMs));
    if (t1 - t0 < 1000) {
      t0 -= 500;
      t1 += 500;
    }
    const pad = (t1 - t0) * 0.03;
    t0 -= pad;
    t1 += pad;
    const maxDuration = Math.max(...traces.map((t) => t.durationNanos), 1) * 1.08;
    const x = (ms) => MARGIN.left + ((ms - t0) / (t1 - t0)) * plotW;
    const y = (ns) => MARGIN.top + plotH - (ns / maxDuration) * plotH;

    const grid = s('g', { class: 'grid' });
    const axis = s('g', { class: 'axis' });
    for (const ns of ticks(0, maxDuration, Math.max(2, Math.floor(plotH / 36)))) {
      grid.append(s('line', { x1: MARGIN.left, x2: MARGIN.left + plotW, y1: y(ns), y2: y(ns) }));
      axis.append(s('text', { x: MARGIN.left - 6, y: y(ns) + 3.5, 'text-anchor': 'end' }, formatDuration(ns)));
    }
    // Time ticks in whole seconds or more, labelled with the clock.
    const stepMs = niceTimeStep((t1 - t0) / Math.max(2, Math.floor(plotW / 110)));
    for (let ms = Math.ceil(t0 / stepMs) * stepMs; ms <= t1; ms += stepMs) {
      grid.append(s('line', { x1: x(ms), x2: x(ms), y1: MARGIN.top, y2: MARGIN.top + plotH }));
      axis.append(s('text', { x: x(ms), y: height - 6, 'text-anchor': 'middle' }, formatClock(ms)));
    }
    svg.append(grid, axis);

    const maxSpans = Math.max(...traces.map((t) => t.spanCount), 1);
    const points = s('g', {});
    // The big dots first, so the small ones stay on top and clickable.
    const bySize = [...traces].sort((a, b) => b.spanCount - a.spanCount);
    for (const trace of bySize) {
      const r = 3 + 5 * Math.sqrt(trace.spanCount / maxSpans);
      const colors = serviceColor(trace.rootService ?? '');
      const dot = s('circle', {
        cx: x(trace.startMs).toFixed(1), cy: y(trace.durationNanos).toFixed(1), r: r.toFixed(1),
        fill: colors.bar, stroke: colors.bar, class: trace.errorCount > 0 ? 'error' : null,
        data: { traceId: trace.traceId },
      }, s('title', {}, `${trace.rootService ?? '?'}: ${trace.rootOperation ?? '?'}\n${formatDuration(trace.durationNanos)} · ` +
        `${trace.spanCount} spans${trace.errorCount ? ` · ${trace.errorCount} errors` : ''}\n${formatDateTime(trace.startMs)}`));
      dot.addEventListener('click', () => open(trace.traceId));
      dot.addEventListener('mouseenter', () => hover(trace.traceId, true));
      dot.addEventListener('mouseleave', () => hover(trace.traceId, false));
      dots.set(trace.traceId, dot);
      points.append(dot);
    }
    svg.append(points);
    replace(box, svg);
  }

  return {
    render(next) {
      traces = next;
      draw();
    },
    highlight(traceId, on) {
      dots.get(traceId)?.classList.toggle('hover', on);
    },
    destroy() {
      observer.disconnect();
    },
  };
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((seconds) => seconds * 1000);

function niceTimeStep(rawMs) {
  return TIME_STEPS.find((step) => step >= rawMs) ?? Math.ceil(rawMs / 86400_000) * 86400_000;
}
