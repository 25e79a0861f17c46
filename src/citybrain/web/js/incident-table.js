// The incidents table: rows with snapshot, kind, rule, camera, zone, start, duration and
// status; a roving focus (one row is focusable at a time) and a multi-selection.
import { eventSeconds, fmtDuration, fmtTime, h, kindName, replace } from './dom.js';

/** Newest first by start time (a dwell event starts when its object entered, so it can
 * arrive after events that started later). */
export function newestFirst(events) {
  return events.sort((a, b) => Date.parse(b.started_at) - Date.parse(a.started_at));
}

export class IncidentTable {
  constructor({ cameraName, canVideo, onOpen, onAck, onResolve, onMap }) {
    Object.assign(this, { cameraName, canVideo, onOpen, onAck, onResolve, onMap });
    this.events = [];
    this.selected = new Set();
    this.focusId = null;
    this.rows = new Map();
    this.body = h('tbody');
    this.all = h('input', {
      type: 'checkbox',
      'aria-label': 'Select all shown',
      onchange: () => this.selectAll(this.all.checked),
    });
    this.el = h(
      'table',
      { class: 'grid incidents', 'aria-label': 'Incidents, newest first' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            '',
            'Snapshot',
            'Kind',
            'Rule',
            'Camera',
            'Zone / line',
            'Start',
            'Duration',
            'Status',
            'Actions',
          ].map((t, i) => h('th', { scope: 'col' }, i === 0 ? this.all : t)),
        ),
      ),
      this.body,
    );
    this.timer = setInterval(() => this.tick(), 1000);
  }

  dispose() {
    clearInterval(this.timer);
  }

  set(events) {
    this.events = events;
    this.selected = new Set([...this.selected].filter((id) => events.some((e) => e.id === id)));
    if (!events.some((e) => e.id === this.focusId)) this.focusId = events[0]?.id ?? null;
    this.render();
  }

  /** Add or update one event (live); new ones go on top. */
  upsert(event, { isNew = false } = {}) {
    const index = this.events.findIndex((e) => e.id === event.id);
    if (index >= 0) this.events[index] = { ...this.events[index], ...event };
    else if (isNew) {
      this.events.push(event);
      newestFirst(this.events);
    } else return;
    this.focusId ??= event.id;
    this.render();
    if (isNew && index < 0) this.rows.get(event.id)?.classList.add('fresh');
  }

  render() {
    const hadFocus = this.el.contains(document.activeElement);
    this.rows.clear();
    replace(
      this.body,
      this.events.length
        ? this.events.map((e) => this.row(e))
        : h('tr', {}, h('td', { colspan: '10', class: 'muted' }, 'No incidents match.')),
    );
    this.all.checked = this.events.length > 0 && this.selected.size === this.events.length;
    if (hadFocus) this.focusRow();
  }

  row(event) {
    const selected = this.selected.has(event.id);
    const box = h('input', {
      type: 'checkbox',
      checked: selected,
      'aria-label': `Select ${kindName(event.kind)} at ${fmtTime(event.started_at)}`,
      tabindex: '-1',
    });
    box.addEventListener('change', () => this.toggle(event.id, box.checked));
    const status = event.status || 'open';
    const tr = h(
      'tr',
      {
        tabindex: event.id === this.focusId ? '0' : '-1',
        dataset: { id: event.id },
        'aria-selected': String(selected),
        onfocus: () => {
          this.focusId = event.id;
          this.updateTabStops();
        },
        ondblclick: () => this.onOpen(event),
      },
      h('td', {}, box),
      h(
        'td',
        {},
        event.snapshot_url && this.canVideo
          ? h('img', { class: 'thumb', src: event.snapshot_url, alt: 'Snapshot', loading: 'lazy' })
          : h('span', { class: 'muted' }, '—'),
      ),
      h('td', {}, kindName(event.kind)),
      h('td', {}, event.rule),
      h('td', {}, this.cameraName(event.camera_id)),
      h('td', {}, event.zone || event.line || '—'),
      h('td', {}, h('time', { datetime: event.started_at }, fmtTime(event.started_at))),
      h(
        'td',
        { class: 'duration' },
        fmtDuration(eventSeconds(event)),
        event.ended_at ? '' : h('span', { class: 'muted' }, ' ongoing'),
      ),
      h('td', {}, h('span', { class: `pill ${status}` }, status)),
      h(
        'td',
        { class: 'actions' },
        status === 'open'
          ? h('button', { tabindex: '-1', onclick: () => this.onAck([event.id]) }, 'Acknowledge')
          : null,
        status !== 'resolved'
          ? h('button', { tabindex: '-1', onclick: () => this.onResolve([event.id]) }, 'Resolve…')
          : null,
        h('button', { tabindex: '-1', class: 'ghost', onclick: () => this.onMap(event) }, 'Map'),
        h('a', { tabindex: '-1', href: `#/incidents/${event.id}` }, 'Open'),
      ),
    );
    this.rows.set(event.id, tr);
    return tr;
  }

  tick() {
    for (const event of this.events) {
      if (event.ended_at) continue;
      const cell = this.rows.get(event.id)?.querySelector('.duration');
      if (cell) cell.firstChild.textContent = fmtDuration(eventSeconds(event));
    }
  }

  updateTabStops() {
    for (const [id, tr] of this.rows) tr.tabIndex = id === this.focusId ? 0 : -1;
  }

  focusRow() {
    this.updateTabStops();
    this.rows.get(this.focusId)?.focus();
  }

  move(step) {
    const index = this.events.findIndex((e) => e.id === this.focusId);
    const next = this.events[Math.max(0, Math.min(this.events.length - 1, index + step))];
    if (next) {
      this.focusId = next.id;
      this.focusRow();
    }
  }

  first() {
    this.focusId = this.events[0]?.id ?? null;
    this.focusRow();
  }

  toggle(id, on = !this.selected.has(id)) {
    if (on) this.selected.add(id);
    else this.selected.delete(id);
    const tr = this.rows.get(id);
    if (tr) {
      tr.setAttribute('aria-selected', String(on));
      tr.querySelector('input').checked = on;
    }
    this.all.checked = this.events.length > 0 && this.selected.size === this.events.length;
  }

  selectAll(on) {
    for (const event of this.events) this.toggle(event.id, on);
  }

  /** The selection, or the focused incident when nothing is selected. */
  targets() {
    if (this.selected.size) return [...this.selected];
    return this.focusId ? [this.focusId] : [];
  }

  focused() {
    return this.events.find((e) => e.id === this.focusId) ?? null;
  }
}
