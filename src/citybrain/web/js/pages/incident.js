// One incident: its anonymised snapshot, what the engine saw, and its history (started,
// ended, who acknowledged and resolved it, when, and the note).
import { api } from '../api.js';
import { askNote } from '../dialogs.js';
import { eventSeconds, fmtDuration, fmtTime, h, kindName, replace, statusLine } from '../dom.js';
import { isTyping } from '../help.js';
import { siteKindName } from '../site-layers.js';

export async function mount(root, ctx, params) {
  const info = statusLine();
  const body = h('div', { class: 'incident' });
  replace(root, h('p', {}, h('a', { href: '#/incidents' }, '← Incidents')), body, info);
  let event = await api(`/api/events/${encodeURIComponent(params.id)}`);
  const cameras = (await api('/api/cameras')).items;
  const cameraName =
    cameras.find((c) => c.id === event.camera_id)?.name ?? `camera ${event.camera_id}`;

  function render() {
    const status = event.status;
    replace(
      body,
      h('h1', {}, `Incident: ${kindName(event.kind)} on ${cameraName}`),
      h(
        'div',
        { class: 'incident-grid' },
        event.snapshot_url
          ? h('img', {
              class: 'snapshot',
              src: event.snapshot_url,
              alt: `Anonymised snapshot of the incident on ${cameraName}`,
            })
          : h('p', { class: 'muted' }, 'No snapshot was taken.'),
        h(
          'div',
          {},
          h(
            'dl',
            { class: 'facts' },
            fact('Status', h('span', { class: `pill ${status}` }, status)),
            fact('Rule', event.rule),
            fact('Camera', cameraName),
            fact('Zone / line', event.zone || event.line || '—'),
            fact('Object', event.label ?? '—'),
            fact('Score', event.score.toFixed(2)),
            fact('Duration', fmtDuration(eventSeconds(event))),
            event.details && Object.keys(event.details).length
              ? fact('Details', JSON.stringify(event.details))
              : null,
          ),
          siteFacts(event.context?.sites ?? []),
          h(
            'div',
            { class: 'toolbar' },
            status === 'open'
              ? h('button', { class: 'primary', onclick: acknowledge }, 'Acknowledge (a)')
              : null,
            status !== 'resolved' ? h('button', { onclick: resolve }, 'Resolve… (r)') : null,
            h('a', { class: 'button', href: `#/map?camera=${event.camera_id}` }, 'Show on map'),
            h('a', { class: 'button', href: `#/live?camera=${event.camera_id}` }, 'Live view'),
          ),
          h('h2', {}, 'History'),
          h('ol', { class: 'history' }, history(event)),
        ),
      ),
    );
  }

  async function acknowledge() {
    try {
      event = await api(`/api/events/${event.id}/acknowledge`, { method: 'POST', body: {} });
      info.textContent = 'Acknowledged.';
      render();
    } catch (error) {
      info.textContent = error.message;
    }
  }

  async function resolve() {
    const note = await askNote('Resolve this incident', 'Resolve');
    if (note === null) return;
    try {
      event = await api(`/api/events/${event.id}/resolve`, {
        method: 'POST',
        body: note ? { note } : {},
      });
      info.textContent = 'Resolved.';
      render();
    } catch (error) {
      info.textContent = error.message;
    }
  }

  function onKey(key) {
    if (
      key.ctrlKey ||
      key.metaKey ||
      key.altKey ||
      isTyping(key.target) ||
      document.querySelector('dialog[open]')
    )
      return;
    if (key.key === 'a' && event.status === 'open') acknowledge();
    else if (key.key === 'r' && event.status !== 'resolved') resolve();
    else return;
    key.preventDefault();
  }

  const stop = ctx.feed.on('event', async (live) => {
    if (live.id !== event.id) return;
    event = await api(`/api/events/${event.id}`);
    render();
  });
  document.addEventListener('keydown', onKey);
  ctx.shortcuts.setPage('Incident', [
    ['a', 'Acknowledge'],
    ['r', 'Resolve with a note'],
  ]);
  render();
  return () => {
    stop();
    document.removeEventListener('keydown', onKey);
  };
}

/** The city's data about the place (context.sites): the permit, its contractor, ... */
function siteFacts(sites) {
  if (!sites.length) return null;
  return h(
    'section',
    { class: 'site-context', 'aria-label': 'City data' },
    h('h2', {}, sites.length === 1 ? 'Site' : 'Sites'),
    sites.map((site) =>
      h(
        'dl',
        { class: 'facts', dataset: { site: site.id } },
        fact('Site', `${site.name} (${siteKindName(site.kind)})`),
        Object.entries(site.attributes ?? {}).map(([key, value]) =>
          fact(siteKindName(key), value ?? '—'),
        ),
      ),
    ),
  );
}

function fact(name, value) {
  return [h('dt', {}, name), h('dd', {}, value)];
}

function history(event) {
  const items = [['Started', event.started_at, null]];
  if (event.ended_at) items.push(['Ended', event.ended_at, null]);
  if (event.acknowledged_at)
    items.push([`Acknowledged by ${event.acknowledged_by}`, event.acknowledged_at, null]);
  if (event.resolved_at)
    items.push([`Resolved by ${event.resolved_by}`, event.resolved_at, event.note]);
  items.sort((a, b) => Date.parse(a[1]) - Date.parse(b[1]));
  return items.map(([what, at, note]) =>
    h(
      'li',
      {},
      h('time', { datetime: at }, fmtTime(at)),
      ' — ',
      what,
      note ? h('blockquote', {}, note) : null,
    ),
  );
}
