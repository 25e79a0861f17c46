// Incidents: the live feed (SSE), newest first, with filters by kind, camera, status and
// time; acknowledge and resolve (with a note), one or many; keyboard shortcuts; export of the
// filtered list through the audited export route.
import { api, listCameras, withQuery } from '../api.js';
import { askNote } from '../dialogs.js';
import { field, h, kindName, localInputToIso, replace, statusLine } from '../dom.js';
import { isTyping } from '../help.js';
import { IncidentTable, newestFirst } from '../incident-table.js';

const KINDS = ['restricted_zone', 'hardhat_required', 'dwell', 'occupancy', 'line_crossing'];
const STATUSES = [
  ['open,acknowledged', 'Open or acknowledged'],
  ['open', 'Open'],
  ['acknowledged', 'Acknowledged'],
  ['resolved', 'Resolved'],
  ['', 'Any'],
];
export const KEYS = [
  ['j / ↓', 'Next incident'],
  ['k / ↑', 'Previous incident'],
  ['Home', 'Newest incident'],
  ['x', 'Select or unselect the focused incident'],
  ['*', 'Select all shown'],
  ['a', 'Acknowledge the selected (or the focused) incidents'],
  ['r', 'Resolve the selected (or the focused) incidents, with a note'],
  ['Enter', 'Open the focused incident'],
  ['m', 'Show the focused incident on the map'],
  ['e', 'Export the filtered list (CSV)'],
  ['/', 'Go to the filters'],
];

export async function mount(root, ctx) {
  const cameras = await listCameras();
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const kind = h(
    'select',
    { name: 'kind' },
    h('option', { value: '' }, 'Any kind'),
    KINDS.map((k) => h('option', { value: k }, kindName(k))),
  );
  const camera = h(
    'select',
    { name: 'camera' },
    h('option', { value: '' }, 'Any camera'),
    cameras.map((c) => h('option', { value: c.id }, c.name)),
  );
  const status = h(
    'select',
    { name: 'status' },
    STATUSES.map(([v, t]) => h('option', { value: v }, t)),
  );
  const since = h('input', { type: 'datetime-local', name: 'from' });
  const until = h('input', { type: 'datetime-local', name: 'to' });
  const exportLink = h('a', { class: 'button', download: '' }, 'Export CSV');
  const info = statusLine();
  const more = h('button', { hidden: true, onclick: () => load(true) }, 'Load more');
  const table = new IncidentTable({
    cameraName: (id) => names.get(id) ?? `camera ${id}`,
    canVideo: true,
    onOpen: (event) => ctx.navigate(`incidents/${event.id}`),
    onAck: (ids) => acknowledge(ids),
    onResolve: (ids) => resolve(ids),
    onMap: (event) => ctx.navigate('map', `?camera=${event.camera_id}&event=${event.id}`),
  });
  const filters = h(
    'form',
    {
      class: 'toolbar',
      'aria-label': 'Filters',
      onchange: () => load(),
      onsubmit: (e) => e.preventDefault(),
    },
    field('Kind', kind),
    field('Camera', camera),
    field('Status', status),
    field('From', since),
    field('To', until),
  );
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Incidents'), info),
    filters,
    h(
      'div',
      { class: 'toolbar' },
      h('button', { onclick: () => acknowledge(table.targets()) }, 'Acknowledge selected (a)'),
      h('button', { onclick: () => resolve(table.targets()) }, 'Resolve selected… (r)'),
      exportLink,
      h('span', { class: 'muted' }, 'Press ? for keyboard shortcuts'),
    ),
    h('div', { class: 'table-wrap' }, table.el),
    more,
  );

  let cursor = null;
  function query() {
    return {
      kind: kind.value,
      camera: camera.value,
      status: status.value ? status.value.split(',') : [],
      from: localInputToIso(since.value),
      to: localInputToIso(until.value),
    };
  }

  // Live incidents that arrive while a page of stored ones loads: the page may have been read
  // before they were stored, and they must not vanish when it replaces the table.
  let arriving = null;

  async function load(append = false) {
    const q = query();
    exportLink.href = withQuery('/api/events/export', { ...q, format: 'csv' });
    const arrived = new Map();
    arriving = arrived;
    table.el.setAttribute('aria-busy', 'true');
    try {
      const page = await api('/api/events', {
        query: { ...q, limit: 100, cursor: append ? cursor : null },
      });
      cursor = page.next_cursor;
      more.hidden = !cursor;
      if (append) table.set([...table.events, ...page.items]);
      else {
        const stored = new Set(page.items.map((e) => e.id));
        const live = [...arrived.values()].filter((e) => !stored.has(e.id) && matches(e));
        table.set(newestFirst([...live, ...page.items]));
      }
      info.textContent = `${page.total}${page.total_exact ? '' : '+'} incident(s)`;
    } catch (error) {
      info.textContent = error.message;
    } finally {
      if (arriving === arrived) {
        arriving = null;
        table.el.setAttribute('aria-busy', 'false');
      }
    }
  }

  function matches(event) {
    const q = query();
    if (q.kind && event.kind !== q.kind) return false;
    if (q.camera && String(event.camera_id) !== q.camera) return false;
    if (q.status.length && !q.status.includes(event.status || 'open')) return false;
    if (q.from && event.started_at < q.from) return false;
    if (q.to && event.started_at >= q.to) return false;
    return true;
  }

  async function change(ids, verb, body) {
    let failed = 0;
    for (const id of ids) {
      try {
        table.upsert(await api(`/api/events/${id}/${verb}`, { method: 'POST', body }));
      } catch (error) {
        failed += 1;
        info.textContent = error.message;
      }
    }
    if (!failed)
      info.textContent = `${ids.length} incident(s) ${verb === 'acknowledge' ? 'acknowledged' : 'resolved'}`;
  }

  async function acknowledge(ids) {
    const open = ids.filter(
      (id) => (table.events.find((e) => e.id === id)?.status || 'open') === 'open',
    );
    if (open.length) await change(open, 'acknowledge', {});
    else info.textContent = 'Nothing open to acknowledge.';
  }

  async function resolve(ids) {
    if (!ids.length) return;
    const note = await askNote(`Resolve ${ids.length} incident(s)`, 'Resolve');
    if (note === null) return;
    await change(ids, 'resolve', note ? { note } : {});
    table.focusRow();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (isTyping(event.target) || document.querySelector('dialog[open]')) return;
    const focused = table.focused();
    const actions = {
      j: () => table.move(1),
      ArrowDown: () => table.move(1),
      k: () => table.move(-1),
      ArrowUp: () => table.move(-1),
      Home: () => table.first(),
      x: () => focused && table.toggle(focused.id),
      '*': () => table.selectAll(true),
      a: () => acknowledge(table.targets()),
      r: () => resolve(table.targets()),
      Enter: () => focused && ctx.navigate(`incidents/${focused.id}`),
      m: () => focused && ctx.navigate('map', `?camera=${focused.camera_id}`),
      e: () => exportLink.click(),
      '/': () => kind.focus(),
    };
    if (
      event.key === 'Enter' &&
      !(event.target instanceof HTMLTableRowElement) &&
      event.target !== document.body
    )
      return;
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  const stop = ctx.feed.on('event', (live) => {
    const event = { ...live, status: live.status ?? undefined };
    if (live.phase === 'start') {
      event.status = 'open';
      arriving?.set(event.id, event);
      if (matches(event)) {
        table.upsert(event, { isNew: true });
        // The stored event gets its snapshot a moment later; fetch it then.
        setTimeout(async () => {
          try {
            table.upsert(await api(`/api/events/${event.id}`));
          } catch {
            // gone or hidden meanwhile
          }
        }, 3000);
      }
    } else {
      if (!event.status) delete event.status;
      table.upsert(event);
    }
  });
  document.addEventListener('keydown', onKey);
  ctx.shortcuts.setPage('Incidents', KEYS);
  await load();
  table.first();
  return () => {
    stop();
    table.dispose();
    document.removeEventListener('keydown', onKey);
  };
}
