// Webhooks (admins): list, add (the signing secret is shown once), test, pause or resume,
// delete, and see each one's latest deliveries; failing webhooks stand out. Every change goes
// through the audited /api/webhooks routes.
import { api, listCameras } from '../api.js';
import { formDialog } from '../dialogs.js';
import { field, fmtTime, h, kindName, replace, statusLine } from '../dom.js';

const KINDS = ['restricted_zone', 'hardhat_required', 'dwell', 'occupancy', 'line_crossing'];

export async function mount(root, ctx) {
  const cameras = await listCameras();
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const info = statusLine();
  const body = h('tbody');
  const details = h('section', { class: 'deliveries', 'aria-live': 'polite' });
  replace(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Webhooks'),
      h('button', { class: 'primary', onclick: () => add() }, 'Add webhook'),
      info,
    ),
    h(
      'p',
      { class: 'muted' },
      'Events are POSTed as CloudEvents, signed per Standard Webhooks; ' +
        'a delivery is retried for 24 hours before it is given up.',
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
            ['URL', 'Kinds', 'Cameras', 'State', 'Waiting', 'Owner', 'Actions'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        body,
      ),
    ),
    details,
  );

  async function load() {
    const hooks = (await api('/api/webhooks')).items;
    replace(
      body,
      hooks.length
        ? hooks.map((hook) => row(hook))
        : h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No webhooks yet.')),
    );
  }

  function state(hook) {
    if (hook.failing) return h('span', { class: 'pill offline' }, 'failing');
    return h('span', { class: 'pill online' }, hook.enabled ? 'active' : 'paused');
  }

  function row(hook) {
    const cams = hook.cameras ? hook.cameras.map((id) => names.get(id) ?? `#${id}`) : ['all'];
    return h(
      'tr',
      { class: hook.failing ? 'failing' : '' },
      h('td', { title: hook.description ?? '' }, hook.url),
      h('td', {}, hook.kinds ? hook.kinds.map(kindName).join(', ') : 'all'),
      h('td', {}, cams.join(', ')),
      h('td', {}, state(hook), hook.failing ? ` since ${fmtTime(hook.failing_since)}` : ''),
      h('td', {}, String(hook.pending)),
      h('td', {}, hook.owner ?? '—'),
      h(
        'td',
        { class: 'actions' },
        h('button', { onclick: () => test(hook) }, 'Test'),
        h(
          'button',
          { onclick: () => change(hook, { enabled: !hook.enabled }) },
          hook.enabled ? 'Pause' : 'Resume',
        ),
        h('button', { onclick: () => deliveries(hook) }, 'Deliveries'),
        h('button', { onclick: () => remove(hook) }, 'Delete'),
      ),
    );
  }

  async function run(what, call) {
    try {
      await call();
    } catch (error) {
      info.textContent = `${what}: ${error.message}`;
    }
    await load();
  }

  function change(hook, patch) {
    return run('Not changed', async () => {
      await api(`/api/webhooks/${hook.id}`, { method: 'PATCH', body: patch });
      info.textContent = `Webhook ${hook.id} changed.`;
    });
  }

  function test(hook) {
    return run('Test failed', async () => {
      info.textContent = `Testing webhook ${hook.id}…`;
      const result = await api(`/api/webhooks/${hook.id}/test`, { method: 'POST' });
      info.textContent = result.ok
        ? `Webhook ${hook.id} answered ${result.status_code} in ${result.seconds.toFixed(2)} s.`
        : `Webhook ${hook.id} failed: ${result.error}`;
    });
  }

  function remove(hook) {
    if (!window.confirm(`Delete the webhook to ${hook.url} and its deliveries?`)) return;
    return run('Not deleted', async () => {
      await api(`/api/webhooks/${hook.id}`, { method: 'DELETE' });
      info.textContent = `Webhook ${hook.id} deleted.`;
      replace(details);
    });
  }

  async function deliveries(hook) {
    const page = await api(`/api/webhooks/${hook.id}/deliveries`, { query: { limit: 20 } });
    replace(
      details,
      h('h2', {}, `Latest deliveries of webhook ${hook.id}`),
      page.items.length
        ? h(
            'table',
            { class: 'grid' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ['Queued', 'Type', 'Event', 'Status', 'Attempts', 'Answer', 'Error'].map((t) =>
                  h('th', { scope: 'col' }, t),
                ),
              ),
            ),
            h(
              'tbody',
              {},
              page.items.map((d) =>
                h(
                  'tr',
                  {},
                  h('td', {}, fmtTime(d.enqueued_at)),
                  h('td', {}, d.event_type),
                  h('td', {}, d.event_id ?? '—'),
                  h('td', {}, d.status),
                  h('td', {}, String(d.attempts)),
                  h('td', {}, d.last_status_code ?? '—'),
                  h('td', { class: 'muted' }, d.last_error ?? ''),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No deliveries yet.'),
    );
  }

  async function add() {
    const url = h('input', { name: 'url', type: 'url', required: true, autocomplete: 'off' });
    const description = h('input', { name: 'description', maxlength: '500' });
    const kinds = KINDS.map((k) => h('input', { type: 'checkbox', name: 'kind', value: k }));
    const camBoxes = cameras.map((c) =>
      h('input', { type: 'checkbox', name: 'camera', value: c.id }),
    );
    let created = null;
    const done = await formDialog(
      'Add webhook',
      'Add webhook',
      (form) =>
        form.append(
          field('URL', url, 'http(s) address the events are POSTed to.'),
          field('Description', description),
          h(
            'fieldset',
            {},
            h('legend', {}, 'Event kinds (none ticked: all)'),
            KINDS.map((k, i) => h('label', { class: 'toggle' }, kinds[i], kindName(k))),
          ),
          h(
            'fieldset',
            {},
            h('legend', {}, 'Cameras (none ticked: all)'),
            cameras.map((c, i) => h('label', { class: 'toggle' }, camBoxes[i], c.name)),
          ),
        ),
      async () => {
        const picked = (boxes) => boxes.filter((b) => b.checked).map((b) => b.value);
        const kindList = picked(kinds);
        const cameraList = picked(camBoxes).map(Number);
        created = await api('/api/webhooks', {
          method: 'POST',
          body: {
            url: url.value.trim(),
            description: description.value.trim() || null,
            kinds: kindList.length ? kindList : null,
            cameras: cameraList.length ? cameraList : null,
          },
        });
      },
    );
    if (!done || !created) return;
    await load();
    replace(
      details,
      h('h2', {}, `Signing secret of webhook ${created.id}`),
      h(
        'p',
        {},
        'Give it to the receiver now: it verifies the webhook-signature header with it. ' +
          'It is not shown again.',
      ),
      h('pre', { class: 'secret' }, created.secret),
    );
  }

  ctx.shortcuts.setPage('Webhooks', []);
  await load();
}
