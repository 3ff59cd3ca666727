// Building DOM nodes. Text is only ever set as text (text nodes, textContent), never parsed as
// HTML, so a facility called "<b>…</b>" shows its tags literally.

/**
 * el('li', {className: 'x', onclick: fn, 'aria-label': 'y'}, 'text', childNode, null)
 * Properties starting with "on" become event listeners; `className`, `hidden`, `disabled`,
 * `value`, `type`, `checked` are set as properties; `dataset` is an object of data-* values;
 * everything else is an attribute. Children: strings and numbers become text nodes, nodes are
 * appended, null/undefined/false are skipped.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (['className', 'hidden', 'disabled', 'value', 'type', 'checked', 'selected'].includes(key)) {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces the children of `node` with `children` (same rules as `el`). */
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const byId = (id) => document.getElementById(id);

/** A round colour swatch; the colour is set through the style object, never as markup. */
export function swatch(color, className = 'swatch') {
  const node = el('span', { className, 'aria-hidden': 'true' });
  if (/^#[0-9a-fA-F]{3,8}$/.test(color || '')) node.style.backgroundColor = color;
  return node;
}

/** Fetches JSON; throws an Error carrying `status` and the server's message on failure. */
export async function fetchJson(url, options = {}) {
  const response = await fetch(url, options);
  let body = null;
  const text = await response.text();
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = new Error((body && body.error) || `HTTP ${response.status}`);
    error.status = response.status;
    error.body = body;
    error.retryAfter = Number(response.headers.get('retry-after')) || null;
    throw error;
  }
  return { status: response.status, body };
}
