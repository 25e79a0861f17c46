// Users (admins): list, add, change role, disable or enable, limit to cameras, reset a
// password. Every change goes through the audited /api/users routes.
import { api, listCameras } from '../api.js';
import { formDialog } from '../dialogs.js';
import { field, fmtTime, h, replace, statusLine } from '../dom.js';

const ROLES = ['admin', 'supervisor', 'operator', 'auditor'];

export async function mount(root, ctx) {
  const cameras = await listCameras();
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const info = statusLine();
  const body = h('tbody');
  replace(
    root,
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, 'Users'),
      h('button', { class: 'primary', onclick: () => addUser() }, 'Add user'),
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
            ['User', 'Role', 'State', 'Cameras', 'Since', 'Actions'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        body,
      ),
    ),
  );

  async function load() {
    const users = (await api('/api/users')).items;
    replace(
      body,
      users.map((user) => row(user)),
    );
  }

  function row(user) {
    const role = h(
      'select',
      { 'aria-label': `Role of ${user.username}` },
      ROLES.map((r) => h('option', { value: r, selected: r === user.role }, r)),
    );
    role.addEventListener('change', () => change(user, { role: role.value }));
    return h(
      'tr',
      {},
      h('td', {}, user.username),
      h('td', {}, role),
      h(
        'td',
        {},
        h(
          'span',
          { class: `pill ${user.disabled ? 'offline' : 'online'}` },
          user.disabled ? 'disabled' : 'enabled',
        ),
      ),
      h(
        'td',
        {},
        user.camera_ids ? user.camera_ids.map((id) => names.get(id) ?? `#${id}`).join(', ') : 'all',
      ),
      h('td', {}, fmtTime(user.created_at)),
      h(
        'td',
        { class: 'actions' },
        h(
          'button',
          { onclick: () => change(user, { disabled: !user.disabled }) },
          user.disabled ? 'Enable' : 'Disable',
        ),
        h('button', { onclick: () => limit(user) }, 'Cameras…'),
        h('button', { onclick: () => password(user) }, 'Reset password…'),
      ),
    );
  }

  async function change(user, patch) {
    try {
      await api(`/api/users/${user.id}`, { method: 'PATCH', body: patch });
      info.textContent = `${user.username} changed.`;
    } catch (error) {
      info.textContent = `${user.username} not changed: ${error.message}`;
    }
    await load();
  }

  function cameraChoices(selected) {
    const all = h('input', { type: 'checkbox', name: 'all', checked: !selected });
    const boxes = cameras.map((c) =>
      h('input', {
        type: 'checkbox',
        name: 'camera',
        value: c.id,
        checked: Boolean(selected?.includes(c.id)),
      }),
    );
    const list = h(
      'div',
      { class: 'choices' },
      cameras.map((c, i) => h('label', { class: 'toggle' }, boxes[i], c.name)),
    );
    const sync = () => list.classList.toggle('muted', all.checked);
    all.addEventListener('change', sync);
    sync();
    return {
      el: h(
        'fieldset',
        {},
        h('legend', {}, 'Cameras'),
        h('label', { class: 'toggle' }, all, 'Every camera'),
        list,
      ),
      value: () =>
        all.checked ? null : boxes.filter((b) => b.checked).map((b) => Number(b.value)),
    };
  }

  async function addUser() {
    const username = h('input', { name: 'username', required: true, autocomplete: 'off' });
    const secret = h('input', {
      name: 'password',
      type: 'password',
      required: true,
      minlength: '10',
      autocomplete: 'new-password',
    });
    const role = h(
      'select',
      { name: 'role' },
      ROLES.map((r) => h('option', { value: r, selected: r === 'operator' }, r)),
    );
    const choice = cameraChoices(null);
    const added = await formDialog(
      'Add user',
      'Add user',
      (form) =>
        form.append(
          field('Username', username),
          field('Password', secret, 'At least 10 characters.'),
          field('Role', role),
          choice.el,
        ),
      () =>
        api('/api/users', {
          method: 'POST',
          body: {
            username: username.value.trim(),
            password: secret.value,
            role: role.value,
            camera_ids: choice.value(),
          },
        }),
    );
    if (added) {
      info.textContent = `${username.value} added.`;
      await load();
    }
  }

  async function limit(user) {
    const choice = cameraChoices(user.camera_ids);
    const done = await formDialog(
      `Cameras of ${user.username}`,
      'Save',
      (form) => form.append(choice.el),
      () => api(`/api/users/${user.id}`, { method: 'PATCH', body: { camera_ids: choice.value() } }),
    );
    if (done) await load();
  }

  async function password(user) {
    const secret = h('input', {
      type: 'password',
      required: true,
      minlength: '10',
      autocomplete: 'new-password',
    });
    const done = await formDialog(
      `New password for ${user.username}`,
      'Set password',
      (form) =>
        form.append(
          field('New password', secret, 'At least 10 characters; their open sessions end.'),
        ),
      () =>
        api(`/api/users/${user.id}/password`, { method: 'POST', body: { password: secret.value } }),
    );
    if (done) info.textContent = `Password of ${user.username} reset.`;
  }

  ctx.shortcuts.setPage('Users', []);
  await load();
}
