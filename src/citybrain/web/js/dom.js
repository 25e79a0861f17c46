// Building DOM without innerHTML (nothing the server sends is ever parsed as HTML), and
// formatting times in the browser's own time zone.

/**
 * Make an element: h('button', {class: 'primary', onclick: fn}, 'Save').
 * Keys starting with "on" add listeners; `dataset` sets data-*; other keys are attributes
 * (false/null/undefined skip them). Children may be strings, nodes, arrays or null.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (key === 'value' || key === 'checked' || key === 'selected') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

/** A timestamp in the browser's time zone. */
export function fmtTime(iso) {
  if (!iso) return '—';
  return timeFormat.format(new Date(iso));
}

/** The browser's time zone name, shown so that nobody wonders which zone times are in. */
export function zoneName() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
}

/** "1 h 02 min", "3 min 05 s", "12 s". */
export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Seconds an event lasted (or has lasted so far). */
export function eventSeconds(event, now = Date.now()) {
  const start = Date.parse(event.started_at);
  const end = event.ended_at ? Date.parse(event.ended_at) : now;
  return (end - start) / 1000;
}

/** A `datetime-local` input's value as an ISO string in UTC ('' stays null). */
export function localInputToIso(value) {
  return value ? new Date(value).toISOString() : null;
}

/** A Date as a `datetime-local` input's value, in the browser's zone. */
export function isoToLocalInput(date) {
  const d = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/** A labelled form field: <label>Text <input …></label> with an error slot after it. */
export function field(label, control, hint) {
  const error = h('span', { class: 'field-error', role: 'alert' });
  const wrap = h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control);
  if (hint) wrap.append(h('span', { class: 'field-hint' }, hint));
  wrap.append(error);
  wrap.showError = (message) => {
    error.textContent = message || '';
    control.toggleAttribute('aria-invalid', Boolean(message));
  };
  return wrap;
}

/** A short status line that announces itself to screen readers. */
export function statusLine() {
  return h('p', { class: 'status-line', role: 'status' });
}

/** The human name of a rule kind. */
export function kindName(kind) {
  return (kind || '').replaceAll('_', ' ');
}
