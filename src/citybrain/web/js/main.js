// The console's entry point: sign-in, the shell (header, navigation, help) and the router.
// Pages live in the URL's fragment (#/map, #/incidents/ID, …) and are ES modules loaded on
// demand; each exports mount(root, ctx, params) and may return a function that unmounts it.
import { api, setUnauthorisedHandler } from './api.js';
import { IncidentCue } from './cue.js';
import { field, h, replace, zoneName } from './dom.js';
import { LiveFeed } from './feed.js';
import { Shortcuts } from './help.js';
import { Prefs } from './prefs.js';

const ALL = ['admin', 'supervisor', 'operator', 'auditor'];
const VIDEO = ['admin', 'supervisor', 'operator'];

/** The pages of the navigation, in order, and the roles that may use each. */
const PAGES = [
  { id: 'map', label: 'Map', roles: ALL, module: './pages/map.js' },
  { id: 'live', label: 'Live', roles: VIDEO, module: './pages/live.js' },
  { id: 'incidents', label: 'Incidents', roles: VIDEO, module: './pages/incidents.js' },
  { id: 'dashboard', label: 'Dashboard', roles: ALL, module: './pages/dashboard.js' },
  { id: 'cameras', label: 'Cameras', roles: ['admin', 'supervisor'], module: './pages/cameras.js' },
  { id: 'audit', label: 'Audit', roles: ['auditor'], module: './pages/audit.js' },
  { id: 'users', label: 'Users', roles: ['admin'], module: './pages/users.js' },
  { id: 'webhooks', label: 'Webhooks', roles: ['admin'], module: './pages/webhooks.js' },
];
const DETAIL = {
  incidents: { module: './pages/incident.js' },
  cameras: { module: './pages/camera-edit.js' },
};

const app = document.getElementById('app');
let session = null;
let shortcuts = null;

setUnauthorisedHandler(() => {
  if (session) signedOut('Your session has ended; sign in again.');
});

async function boot() {
  try {
    await start(await api('/api/auth/me'));
  } catch {
    showLogin();
  }
}

function showLogin(message = '') {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true });
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const error = h('p', { class: 'form-error', role: 'alert' }, message);
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'login', onsubmit: (event) => submit(event) },
    h('h1', {}, 'citybrain'),
    h('p', { class: 'muted' }, 'Operations centre'),
    field('Username', username),
    field('Password', password),
    button,
    error,
  );
  async function submit(event) {
    event.preventDefault();
    button.disabled = true;
    error.textContent = '';
    try {
      const me = await api('/api/session', {
        method: 'POST',
        body: { username: username.value.trim(), password: password.value },
      });
      await start(me);
    } catch (exc) {
      error.textContent = exc.status === 401 ? 'Wrong user name or password.' : exc.message;
      button.disabled = false;
      password.select();
    }
  }
  replace(app, h('main', { id: 'main', class: 'login-page' }, form));
  username.focus();
}

async function start(me) {
  const settings = await api('/api/console/settings');
  const feed = new LiveFeed();
  const prefs = new Prefs(me.username);
  shortcuts ??= new Shortcuts((page) => navigate(page));
  session = { me, settings, feed, prefs, shortcuts, navigate, unmount: null, route: '' };
  replace(app, shell(session));
  feed.start();
  if (VIDEO.includes(me.role)) {
    feed.on('event', (event) => {
      if (event.phase === 'start') session?.cue.ring(event);
    });
  }
  window.addEventListener('hashchange', route);
  route();
}

function shell(ctx) {
  const links = PAGES.filter((page) => page.roles.includes(ctx.me.role)).map((page) =>
    h('a', { href: `#/${page.id}`, dataset: { page: page.id } }, page.label),
  );
  const badge = h('a', { class: 'new-badge', href: '#/incidents', hidden: true });
  ctx.cue = new IncidentCue(ctx.prefs, badge);
  const live = h('span', { class: 'feed-state', title: 'Live feed' }, 'offline');
  ctx.feed.on('state', (connected) => {
    live.textContent = connected ? 'live' : 'reconnecting';
    live.classList.toggle('ok', connected);
  });
  const sound = h('input', { type: 'checkbox', checked: ctx.prefs.get('sound') });
  sound.addEventListener('change', () => ctx.prefs.set('sound', sound.checked));
  ctx.main = h('main', { id: 'main', tabindex: '-1' });
  return [
    h(
      'header',
      { class: 'top' },
      h('span', { class: 'brand' }, 'citybrain'),
      h('nav', { 'aria-label': 'Main' }, links),
      h(
        'div',
        { class: 'top-right' },
        badge,
        live,
        VIDEO.includes(ctx.me.role)
          ? h('label', { class: 'toggle', title: 'Sound on a new incident' }, sound, 'Sound')
          : null,
        h(
          'button',
          {
            class: 'ghost',
            onclick: () => ctx.shortcuts.toggle(),
            title: 'Keyboard shortcuts (?)',
          },
          '?',
        ),
        h('span', { class: 'who' }, `${ctx.me.username} · ${ctx.me.role}`),
        h('button', { class: 'ghost', onclick: signOut }, 'Sign out'),
      ),
    ),
    ctx.main,
    h('footer', { class: 'bottom muted' }, `Times in ${zoneName()}`),
  ];
}

function navigate(page, params = '') {
  location.hash = `#/${page}${params}`;
}

function allowedPage(id) {
  return PAGES.find((page) => page.id === id && page.roles.includes(session.me.role));
}

async function route() {
  if (!session) return;
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, queryText = ''] = hash.split('?');
  const [id, detail] = path.split('/');
  const home = session.me.role === 'auditor' ? 'audit' : 'incidents';
  const page = allowedPage(id);
  if (!page) {
    navigate(home);
    return;
  }
  session.unmount?.();
  session.unmount = null;
  for (const link of document.querySelectorAll('nav a')) {
    if (link.dataset.page === id) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const spec = detail && DETAIL[id] ? DETAIL[id] : page;
  const params = {
    id: detail ? decodeURIComponent(detail) : null,
    query: new URLSearchParams(queryText),
  };
  const root = replace(session.main);
  session.shortcuts.setPage(page.label, []);
  if (id === 'incidents') session.cue.seen();
  session.route = hash;
  const current = hash;
  try {
    const module = await import(spec.module);
    if (session?.route !== current) return;
    session.unmount = (await module.mount(root, session, params)) || null;
  } catch (error) {
    console.error(error);
    replace(
      root,
      h('h1', {}, page.label),
      h('p', { class: 'form-error' }, `This page failed: ${error.message}`),
    );
  }
}

async function signOut() {
  try {
    await api('/api/session', { method: 'DELETE' });
  } finally {
    signedOut('');
  }
}

function signedOut(message) {
  session?.unmount?.();
  session?.feed.stop();
  window.removeEventListener('hashchange', route);
  session = null;
  showLogin(message);
}

boot();
