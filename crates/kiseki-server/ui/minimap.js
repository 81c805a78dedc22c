// The trace minimap: every span of the trace drawn once on a canvas (tree order top to bottom,
// time left to right, service colours, errors in red), with the waterfall's time window on top.
// Drag the window to move it, its edges to resize it, anywhere else to draw a new one; the wheel
// zooms around the pointer; a double click shows the whole trace. Moving the window redraws no
// span: only the window's three DOM boxes move.

import { h, replace } from './dom.js';
import { formatDuration, serviceColor, ticks } from './format.js';

const ERROR_COLOR = '#b42318';

/** A minimap of `model` in `container`; `change(start, end)` whenever the user moves the window. */
export function createMinimap(container, model, { change }) {
  const total = Math.max(model.duration, 1);
  const minimumWidth = Math.max(total * 1e-6, 1);
  let view = { start: 0, end: total };

  const canvas = h('canvas', { 'aria-hidden': 'true' });
  const shadeLeft = h('div', { class: 'shade' });
  const shadeRight = h('div', { class: 'shade' });
  const handleLeft = h('div', { class: 'handle left', data: { drag: 'left' } });
  const handleRight = h('div', { class: 'handle right', data: { drag: 'right' } });
  const windowBox = h('div', { class: 'window', data: { drag: 'move' } }, handleLeft, handleRight);
  const tickBox = h('div', { class: 'ticks' });
  const root = h('div', {
    class: 'minimap', role: 'slider', tabindex: 0, 'aria-label': 'time window of the waterfall',
    title: 'drag to choose a time window; double-click for the whole trace',
  }, canvas, shadeLeft, shadeRight, windowBox, tickBox);
  container.append(root);

  const observer = new ResizeObserver(() => draw());
  observer.observe(root);

  function draw() {
    const width = root.clientWidth;
    const height = canvas.clientHeight;
    if (width <= 0 || height <= 0) return;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const nodes = model.nodes;
    const rowHeight = height / Math.max(nodes.length, 1);
    const barHeight = Math.max(1, Math.min(rowHeight - (rowHeight > 3 ? 1 : 0), 6));
    const colors = new Map();
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i];
      let color = node.isError ? ERROR_COLOR : colors.get(node.service);
      if (!color) {
        color = serviceColor(node.service).bar;
        colors.set(node.service, color);
      }
      ctx.fillStyle = color;
      const x = (node.start / total) * width;
      const w = Math.max(1, (node.duration / total) * width);
      ctx.fillRect(x, i * rowHeight, w, barHeight);
    }
    replace(tickBox, ticks(0, total, Math.max(2, Math.floor(width / 110))).map((t) => {
      const label = h('span', { style: { left: `${(t / total) * 100}%` } }, t === 0 ? '0' : formatDuration(t));
      if (t === 0) label.style.transform = 'none';
      else if (t / total > 0.96) label.style.transform = 'translateX(-100%)';
      return label;
    }));
    placeWindow();
  }

  function placeWindow() {
    const left = (view.start / total) * 100;
    const right = (view.end / total) * 100;
    shadeLeft.style.left = '0';
    shadeLeft.style.width = `${left}%`;
    shadeRight.style.left = `${right}%`;
    shadeRight.style.right = '0';
    windowBox.style.left = `${left}%`;
    windowBox.style.width = `${right - left}%`;
    root.setAttribute('aria-valuetext', `${formatDuration(view.start)} to ${formatDuration(view.end)}`);
  }

  function set(start, end, notify = true) {
    let a = Math.max(0, Math.min(start, end));
    let b = Math.min(total, Math.max(start, end));
    if (b - a < minimumWidth) {
      const middle = (a + b) / 2;
      a = Math.max(0, middle - minimumWidth / 2);
      b = Math.min(total, a + minimumWidth);
    }
    view = { start: a, end: b };
    placeWindow();
    if (notify) change(a, b);
  }

  root.addEventListener('pointerdown', (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    const box = root.getBoundingClientRect();
    const timeAt = (clientX) => (Math.min(box.width, Math.max(0, clientX - box.left)) / box.width) * total;
    let mode = event.target instanceof HTMLElement ? event.target.dataset.drag ?? 'draw' : 'draw';
    // A window over the whole trace cannot move: dragging across it draws a new one.
    if (mode === 'move' && view.start <= 0 && view.end >= total) mode = 'draw';
    const origin = timeAt(event.clientX);
    const startView = { ...view };
    root.setPointerCapture(event.pointerId);
    const move = (e) => {
      const at = timeAt(e.clientX);
      if (mode === 'move') {
        const width = startView.end - startView.start;
        const start = Math.min(total - width, Math.max(0, startView.start + at - origin));
        set(start, start + width);
      } else if (mode === 'left') {
        set(Math.min(at, startView.end - minimumWidth), startView.end);
      } else if (mode === 'right') {
        set(startView.start, Math.max(at, startView.start + minimumWidth));
      } else if (Math.abs(at - origin) > minimumWidth) {
        set(origin, at);
      }
    };
    const up = () => {
      root.removeEventListener('pointermove', move);
      root.removeEventListener('pointerup', up);
      root.removeEventListener('pointercancel', up);
    };
    root.addEventListener('pointermove', move);
    root.addEventListener('pointerup', up);
    root.addEventListener('pointercancel', up);
  });

  root.addEventListener('wheel', (event) => {
    event.preventDefault();
    const box = root.getBoundingClientRect();
    const pivot = ((event.clientX - box.left) / box.width) * total;
    const factor = Math.exp(event.deltaY / 400);
    set(pivot - (pivot - view.start) * factor, pivot + (view.end - pivot) * factor);
  }, { passive: false });

  root.addEventListener('dblclick', () => set(0, total));

  root.addEventListener('keydown', (event) => {
    const width = view.end - view.start;
    const step = width / 10;
    const keys = {
      ArrowLeft: () => set(Math.max(0, view.start - step), Math.max(0, view.start - step) + width),
      ArrowRight: () => set(Math.min(total - width, view.start + step), Math.min(total - width, view.start + step) + width),
      '+': () => set(view.start + width / 4, view.end - width / 4),
      '-': () => set(view.start - width / 2, view.end + width / 2),
      '0': () => set(0, total),
    };
    const action = keys[event.key];
    if (action) {
      event.preventDefault();
      event.stopPropagation();
      action();
    }
  });

  return {
    /** Moves the window without telling `change` (the caller already knows). */
    setView(start, end) {
      set(start, end, false);
    },
    destroy() {
      observer.disconnect();
      root.remove();
    },
  };
}
