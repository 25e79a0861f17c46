// Audit: who looked at which video or exported what, when and from where; filters by user,
// camera, action and time; a page of 100 at a time.
import { api, listCameras } from '../api.js';
import { field, fmtTime, h, localInputToIso, replace, statusLine } from '../dom.js';

const ACTIONS = [
  'live.open',
  'frame.read',
  'snapshot.read',
  'events.export',
  'events.stream',
  'login',
  'login.failed',
  'logout',
  'camera.create',
  'camera.update',
  'camera.delete',
  'event.acknowledge',
  'event.resolve',
  'user.create',
  'user.update',
  'user.password',
  'token.revoke',
  'audit.read',
];
const LIMIT = 100;

export async function mount(root, ctx) {
  const cameras = await listCameras();
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const user = h('input', {
    name: 'user',
    placeholder: 'any',
    autocomplete: 'off',
    pattern: '[A-Za-z0-9_.@-]+',
  });
  const camera = h(
    'select',
    { name: 'camera' },
    h('option', { value: '' }, 'Any camera'),
    cameras.map((c) => h('option', { value: c.id }, c.name)),
  );
  const action = h(
    'select',
    { name: 'action' },
    h('option', { value: '' }, 'Any action'),
    ACTIONS.map((a) => h('option', { value: a }, a)),
  );
  const since = h('input', { type: 'datetime-local', name: 'from' });
  const until = h('input', { type: 'datetime-local', name: 'to' });
  const info = statusLine();
  const body = h('tbody');
  const prev = h('button', { onclick: () => go(-1) }, 'Newer');
  const next = h('button', { onclick: () => go(1) }, 'Older');
  let offset = 0;
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Audit'), info),
    h(
      'form',
      {
        class: 'toolbar',
        'aria-label': 'Filters',
        onsubmit: (e) => {
          e.preventDefault();
          offset = 0;
          load();
        },
      },
      field('User', user),
      field('Camera', camera),
      field('Action', action),
      field('From', since),
      field('To', until),
      h('button', { class: 'primary' }, 'Filter'),
    ),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'grid' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['When', 'User', 'Action', 'Camera', 'What', 'From', 'Detail'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        body,
      ),
    ),
    h('div', { class: 'toolbar' }, prev, next),
  );
  for (const control of [camera, action, since, until])
    control.addEventListener('change', () => {
      offset = 0;
      load();
    });

  async function load() {
    try {
      const page = await api('/api/audit', {
        query: {
          user: user.value.trim(),
          camera: camera.value,
          action: action.value,
          from: localInputToIso(since.value),
          to: localInputToIso(until.value),
          limit: LIMIT,
          offset,
        },
      });
      replace(
        body,
        page.items.length
          ? page.items.map((e) =>
              h(
                'tr',
                {},
                h('td', {}, h('time', { datetime: e.at }, fmtTime(e.at))),
                h('td', {}, e.username ?? '—'),
                h('td', {}, e.action),
                h(
                  'td',
                  {},
                  e.camera_id ? (names.get(e.camera_id) ?? `camera ${e.camera_id}`) : '—',
                ),
                h('td', {}, e.target ?? ''),
                h('td', {}, e.client ?? '—'),
                h(
                  'td',
                  { class: 'muted detail' },
                  Object.keys(e.detail).length ? JSON.stringify(e.detail) : '',
                ),
              ),
            )
          : h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No entries match.')),
      );
      info.textContent = `${page.total} entr${page.total === 1 ? 'y' : 'ies'}; showing ${page.total ? offset + 1 : 0}–${offset + page.items.length}`;
      prev.disabled = offset === 0;
      next.disabled = offset + LIMIT >= page.total;
    } catch (error) {
      info.textContent = error.message;
    }
  }

  function go(step) {
    offset = Math.max(0, offset + step * LIMIT);
    load();
  }

  ctx.shortcuts.setPage('Audit', []);
  await load();
}
