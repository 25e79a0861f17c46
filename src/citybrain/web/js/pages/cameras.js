// Cameras (admins, supervisors): every camera with its health and last error; enable or
// disable it here, add one, or open its set-up.
import { api, listCameras } from '../api.js';
import { h, replace, statusLine } from '../dom.js';
import { hasPosition, healthState } from '../map-layers.js';

export async function mount(root, ctx) {
  const info = statusLine();
  const body = h('tbody');
  replace(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Cameras'),
      h('a', { class: 'button primary', href: '#/cameras/new' }, 'Add camera'),
      info,
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
            ['Name', 'Health', 'Rules', 'Position', 'Last error', 'Enabled', ''].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        body,
      ),
    ),
  );

  async function load() {
    const cameras = await listCameras();
    replace(
      body,
      cameras.length
        ? cameras.map((camera) => row(camera))
        : h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No cameras yet: add one.')),
    );
  }

  function row(camera) {
    const health = ctx.feed.health.get(camera.id) ?? camera.health;
    const state = healthState(camera, health);
    const toggle = h('input', {
      type: 'checkbox',
      checked: camera.enabled,
      'aria-label': `${camera.name} enabled`,
    });
    toggle.addEventListener('change', async () => {
      try {
        await api(`/api/cameras/${camera.id}`, {
          method: 'PATCH',
          body: { enabled: toggle.checked },
        });
        info.textContent = `${camera.name} ${toggle.checked ? 'enabled' : 'disabled'}.`;
      } catch (error) {
        toggle.checked = !toggle.checked;
        info.textContent = error.message;
      }
    });
    const rules = Object.keys(camera.config.rules || {});
    return h(
      'tr',
      {},
      h('td', {}, h('a', { href: `#/cameras/${camera.id}` }, camera.name)),
      h(
        'td',
        {},
        h('span', { class: `pill ${state}` }, state),
        health ? ` ${health.fps_in.toFixed(1)} fps` : '',
      ),
      h('td', {}, rules.length ? rules.join(', ') : h('span', { class: 'muted' }, 'none')),
      h(
        'td',
        {},
        hasPosition(camera)
          ? `${camera.lat.toFixed(5)}, ${camera.lon.toFixed(5)}`
          : h('span', { class: 'muted' }, 'not placed'),
      ),
      h('td', { class: 'muted' }, health?.last_error ?? ''),
      h('td', {}, toggle),
      h('td', {}, h('a', { class: 'button', href: `#/cameras/${camera.id}` }, 'Set up')),
    );
  }

  let pending = null; // health arrives often: reload at most every 5 s
  const stopHealth = ctx.feed.on('health', () => {
    pending ??= setTimeout(() => {
      pending = null;
      load();
    }, 5000);
  });
  const stop = () => {
    clearTimeout(pending);
    stopHealth();
  };
  ctx.shortcuts.setPage('Cameras', []);
  await load();
  return stop;
}
