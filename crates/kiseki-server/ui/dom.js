// Building DOM and SVG elements in a few lines, without innerHTML (so no markup injection from
// span data, and nothing the page's Content-Security-Policy refuses).

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * `h('a', {href: '/x', class: 'link', onclick: fn}, 'text', child)`: an element with attributes,
 * event handlers (`on…` keys), `dataset` entries (`data: {…}`) and children (strings become text).
 */
export function h(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** Like {@link h}, for SVG elements. */
export function s(tag, attributes = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

function build(element, attributes, children) {
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      element.addEventListener(key.slice(2), value);
    } else if (key === 'data') {
      Object.assign(element.dataset, value);
    } else if (key === 'style') {
      // CSSOM, not the style attribute, which the Content-Security-Policy forbids.
      Object.assign(element.style, value);
    } else if (key === 'value' && 'value' in element) {
      element.value = value;
    } else if (key === 'checked' || key === 'selected' || key === 'disabled') {
      element[key] = Boolean(value);
    } else {
      element.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

/** Appends children: nodes, strings (as text), arrays of either; skips null and false. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replaces every child of `element` with `children`. */
export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** A coloured chip for a service, as search results and the trace header show them. */
export function serviceChip(name, colors, extra) {
  return h('span', {
    class: 'chip',
    style: { backgroundColor: colors.tint, color: colors.ink, borderColor: colors.bar },
    title: name,
  }, h('span', { class: 'swatch', style: { backgroundColor: colors.bar } }), name, extra ?? null);
}

/** Copies text to the clipboard; falls back silently where the page is not a secure context. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/** Whether a key event comes from a place where typing goes (so page shortcuts stay out). */
export function isTyping(event) {
  const target = event.target;
  if (!(target instanceof Element)) return false;
  return target.closest('input, textarea, select, [contenteditable="true"]') !== null;
}
