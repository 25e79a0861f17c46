// Dashboard: events per hour by kind and by camera, line crossings over time, a camera health
// summary and the detector's load, over a chosen time range. Charts first; numbers on hover.
import { api, listCameras } from '../api.js';
import { buckets, group, timeChart } from '../charts.js';
import { DetectorLoad } from '../detector-load.js';
import { field, h, isoToLocalInput, kindName, replace, statusLine } from '../dom.js';
import { healthState } from '../map-layers.js';

const RANGES = [
  [1, 'Last hour'],
  [6, 'Last 6 hours'],
  [24, 'Last 24 hours'],
  [72, 'Last 72 hours'],
  [168, 'Last 7 days'],
  [0, 'Custom'],
];

export async function mount(root, ctx) {
  const cameras = await listCameras();
  const names = new Map(cameras.map((c) => [c.id, c.name]));
  const range = h(
    'select',
    { name: 'range' },
    RANGES.map(([v, t]) => h('option', { value: v, selected: v === 24 }, t)),
  );
  const since = h('input', { type: 'datetime-local', name: 'from', disabled: true });
  const until = h('input', { type: 'datetime-local', name: 'to', disabled: true });
  const info = statusLine();
  const panels = {
    kind: h('section', { class: 'panel' }),
    camera: h('section', { class: 'panel' }),
    lines: h('section', { class: 'panel' }),
    health: h('section', { class: 'panel' }),
    load: h('section', { class: 'panel' }),
  };
  replace(
    root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Dashboard'), info),
    h(
      'form',
      {
        class: 'toolbar',
        'aria-label': 'Time range',
        onsubmit: (e) => {
          e.preventDefault();
          load();
        },
      },
      field('Time range', range),
      field('From', since),
      field('To', until),
      h('button', { class: 'primary' }, 'Apply'),
    ),
    h('div', { class: 'dashboard' }, Object.values(panels)),
  );
  range.addEventListener('change', () => {
    const custom = range.value === '0';
    since.disabled = !custom;
    until.disabled = !custom;
    if (custom && !since.value) {
      since.value = isoToLocalInput(new Date(Date.now() - 24 * 3600e3));
      until.value = isoToLocalInput(new Date());
    }
    if (!custom) load();
  });

  let charts = [];
  async function load() {
    for (const chart of charts) chart?.destroy();
    const hours = Number(range.value);
    const end = hours ? new Date() : new Date(until.value || Date.now());
    const start = hours ? new Date(end.getTime() - hours * 3600e3) : new Date(since.value);
    if (!(start < end)) {
      info.textContent = 'Choose a start before the end.';
      return;
    }
    const bucket = (end - start) / 3600e3 > 24 * 14 ? 'day' : 'hour';
    const query = { from: start.toISOString(), to: end.toISOString(), bucket };
    info.textContent = 'Loading…';
    try {
      const [stats, lines] = await Promise.all([
        api('/api/stats', { query }),
        api('/api/stats/lines', { query }),
      ]);
      const xs = buckets(start, end, bucket);
      const per = bucket === 'day' ? 'day' : 'hour';
      charts = [
        timeChart(
          panels.kind,
          `Events per ${per} by kind`,
          xs,
          group(stats.events, xs, (r) => kindName(r.kind)),
          { unit: 'events' },
        ),
        timeChart(
          panels.camera,
          `Events per ${per} by camera`,
          xs,
          group(stats.events, xs, (r) => names.get(r.camera_id) ?? `camera ${r.camera_id}`),
          { unit: 'events' },
        ),
        timeChart(
          panels.lines,
          `Line crossings per ${per}`,
          xs,
          group(
            lines.items,
            xs,
            (r) => `${names.get(r.camera_id) ?? r.camera_id} ${r.line} ${r.direction}`,
          ),
          { unit: 'crossings' },
        ),
      ];
      const total = stats.per_kind.reduce((a, k) => a + k.count, 0);
      info.textContent = `${total} event(s) in the range`;
    } catch (error) {
      info.textContent = error.message;
    }
  }

  function renderHealth() {
    const states = cameras.map((c) => healthState(c, ctx.feed.health.get(c.id)));
    const count = (s) => states.filter((x) => x === s).length;
    replace(
      panels.health,
      h('h2', {}, 'Camera health'),
      h(
        'div',
        { class: 'health-summary' },
        [
          ['online', 'Online'],
          ['offline', 'Offline'],
          ['unknown', 'No report'],
          ['disabled', 'Disabled'],
        ].map(([s, t]) =>
          h(
            'div',
            { class: `big-number state-${s}` },
            h('strong', {}, String(count(s))),
            h('span', {}, t),
          ),
        ),
      ),
      h(
        'table',
        { class: 'grid' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Camera', 'State', 'fps in', 'fps analysed', 'Lag', 'Last error'].map((t) =>
              h('th', { scope: 'col' }, t),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          cameras.map((c, i) => {
            const r = ctx.feed.health.get(c.id) ?? c.health;
            return h(
              'tr',
              {},
              h('td', {}, c.name),
              h('td', {}, h('span', { class: `pill ${states[i]}` }, states[i])),
              h('td', {}, r ? r.fps_in.toFixed(1) : '—'),
              h('td', {}, r ? r.fps_analysed.toFixed(1) : '—'),
              h('td', {}, r?.lag_seconds != null ? `${r.lag_seconds.toFixed(1)} s` : '—'),
              h('td', { class: 'muted' }, r?.last_error ?? ''),
            );
          }),
        ),
      ),
    );
  }

  const loadChart = new DetectorLoad(panels.load);
  const stop = ctx.feed.on('health', renderHealth);
  renderHealth();
  ctx.shortcuts.setPage('Dashboard', []);
  await load();
  loadChart.start();
  return () => {
    stop();
    loadChart.stop();
    for (const chart of charts) chart?.destroy();
  };
}
