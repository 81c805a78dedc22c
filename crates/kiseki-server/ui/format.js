// How kiseki's pages write durations, times, ids and service colours, so every page agrees.
// Pure functions: no DOM, also used by the unit tests under node.

const NS_PER_US = 1e3;
const NS_PER_MS = 1e6;
const NS_PER_S = 1e9;

/** A duration in nanoseconds as people read it: `850ns`, `12.4µs`, `3.05ms`, `1.20s`, `2m 05s`. */
export function formatDuration(ns) {
  if (!Number.isFinite(ns)) return '–';
  const sign = ns < 0 ? '-' : '';
  const v = Math.abs(ns);
  // Each unit up to where three digits would round to 1000 of it.
  if (v < NS_PER_US - 0.5) return `${sign}${Math.round(v)}ns`;
  if (v < NS_PER_MS * 0.9995) return `${sign}${threeDigits(v / NS_PER_US)}µs`;
  if (v < NS_PER_S * 0.9995) return `${sign}${threeDigits(v / NS_PER_MS)}ms`;
  if (v < 59.995 * NS_PER_S) return `${sign}${threeDigits(v / NS_PER_S)}s`;
  const totalSeconds = Math.round(v / NS_PER_S);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${sign}${hours}h ${String(minutes).padStart(2, '0')}m`;
  return `${sign}${minutes}m ${String(seconds).padStart(2, '0')}s`;
}

/** Three significant digits, without a trailing `.0`. */
function threeDigits(value) {
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return value.toFixed(digits).replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1');
}

/** A tick step (1, 2 or 5 × 10^k ns) that cuts `span` ns into at most `maxTicks` parts. */
export function tickStep(span, maxTicks) {
  if (!(span > 0) || !(maxTicks >= 1)) return 1;
  const raw = span / maxTicks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) {
    if (factor * magnitude >= raw) return factor * magnitude;
  }
  return 10 * magnitude;
}

/** The tick positions (ns) from `start` to `end` with the step of {@link tickStep}. */
export function ticks(start, end, maxTicks) {
  const step = tickStep(end - start, maxTicks);
  const out = [];
  for (let t = Math.ceil(start / step) * step; t <= end + step * 1e-9; t += step) out.push(t);
  return out;
}

/** Unix nanoseconds as a decimal string (the API's form) → milliseconds as a number. */
export function unixNanoToMs(text) {
  try {
    const ns = BigInt(text);
    return Number(ns / 1_000_000n) + Number(ns % 1_000_000n) / 1e6;
  } catch {
    return NaN;
  }
}

const pad = (n, width = 2) => String(n).padStart(width, '0');

/** A local date and time with milliseconds: `2026-11-01 14:02:03.123`. */
export function formatDateTime(ms) {
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A local time of day, for axis labels: `14:02:03`. */
export function formatClock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** How long ago `ms` was, relative to `now`: `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function formatAgo(ms, now = Date.now()) {
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 90) return `${seconds}s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes}m ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 36) return `${hours}h ago`;
  return `${Math.round(hours / 24)}d ago`;
}

/** The value a `datetime-local` input (with seconds) shows for `ms`, in local time. */
export function toDateTimeLocal(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The first 8 hex digits of an id, as lists show it. */
export function shortId(id) {
  return String(id).slice(0, 8);
}

/** 32-bit FNV-1a of a string's UTF-16 code units: stable across pages, sessions and machines. */
export function stableHash(text) {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/**
 * A service's colours, the same for the same name everywhere, in OKLCH so that every hue is as
 * light as the others: `bar` for bars and dots (4.5:1 or more against white, and for white text on
 * it), `tint` for chip backgrounds and `ink` for text on the tint (7:1 or more).
 */
export function serviceColor(name) {
  const hash = stableHash(name || '?');
  // 24 hues 15° apart, in an order that keeps neighbouring indexes far apart on the wheel, and
  // two lightness levels: 48 distinct colours.
  const hue = ((hash % 24) * 105) % 360;
  const lightness = (hash >>> 5) % 2 === 0 ? 0.56 : 0.48;
  return {
    bar: `oklch(${lightness} 0.15 ${hue})`,
    tint: `oklch(0.95 0.035 ${hue})`,
    ink: `oklch(0.36 0.09 ${hue})`,
  };
}

/** An attribute value from the API (typed JSON) as one line of text. */
export function attributeText(attribute) {
  const { type, value } = attribute;
  if (type === 'string') return String(value);
  if (type === 'array' || type === 'map') return JSON.stringify(value);
  return String(value);
}

/** `1234567` → `1 234 567`: counts that stay readable. */
export function formatCount(n) {
  return Number.isFinite(n) ? n.toLocaleString('en-US').replace(/,/g, '\u202f') : '–';
}

/** A Go-style duration (`250ms`, `1.5s`, `2m`, `1h30m`) → nanoseconds, or NaN. */
export function parseGoDuration(text) {
  const units = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86400e9 };
  const trimmed = String(text).trim();
  if (trimmed === '') return NaN;
  const re = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h|d)/gy;
  let total = 0;
  let index = 0;
  let match;
  while ((match = re.exec(trimmed)) !== null) {
    total += Number(match[1]) * units[match[2]];
    index = re.lastIndex;
  }
  return index === trimmed.length ? total : NaN;
}

/** What an adjustment kind from the API means, in a few words. */
export function adjustmentLabel(kind) {
  return {
    clock_skew: 'clock skew',
    shared_span_id: 'span id shared by client and server',
    duplicate_span: 'duplicate span',
  }[kind] ?? String(kind).replace(/_/g, ' ');
}
