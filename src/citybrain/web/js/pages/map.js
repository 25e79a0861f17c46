// Map: every camera as a marker with its field-of-view cone, coloured by health and open
// incidents, clustered when zoomed out; a side panel lists them (also for the keyboard and
// screen readers), shows the selected camera's live view and recent incidents.
import { api, listCameras } from '../api.js';
import { fmtTime, h, kindName, replace } from '../dom.js';
import {
  cameraIcon,
  clusterIcon,
  coneLayer,
  hasPosition,
  healthState,
  makeMap,
} from '../map-layers.js';
import { coverageLayer, footprintLayer, sitesLayer } from '../site-layers.js';

const VIDEO = ['admin', 'supervisor', 'operator'];
const CONE_MIN_ZOOM = 15;

export async function mount(root, ctx, params) {
  const L = window.L;
  const mapEl = h('div', { class: 'map', role: 'region', 'aria-label': 'Map of cameras' });
  const list = h('ul', { class: 'camera-list', 'aria-label': 'Cameras' });
  const detail = h('section', { class: 'camera-detail', 'aria-live': 'polite' });
  replace(
    root,
    h(
      'div',
      { class: 'map-page' },
      h('div', { class: 'map-main' }, h('h1', {}, 'Map'), mapEl),
      h('aside', { class: 'map-side' }, h('h2', {}, 'Cameras'), list, detail),
    ),
  );
  const map = makeMap(mapEl, ctx.settings, { maxZoom: ctx.settings.tile_max_zoom || 19 });
  const clusters = L.markerClusterGroup({
    disableClusteringAtZoom: 17,
    showCoverageOnHover: false,
    iconCreateFunction: clusterIcon,
  }).addTo(map);
  const cones = L.layerGroup().addTo(map);
  const state = { cameras: [], open: new Map(), selected: null, markers: new Map() };
  // City data: sites valid now (all but auditors), and coverage gaps (admins, supervisors).
  const overlays = {};
  const sites = ctx.me.role === 'auditor' ? null : sitesLayer(map);
  if (sites) overlays.Sites = sites.layer.addTo(map);
  if (['admin', 'supervisor'].includes(ctx.me.role))
    overlays['Coverage gaps'] = coverageLayer().layer;
  if (Object.keys(overlays).length)
    L.control.layers(null, overlays, { collapsed: false }).addTo(map);

  async function load() {
    const [cameras, open] = await Promise.all([listCameras(), openCounts()]);
    state.cameras = cameras;
    state.open = open;
    draw();
  }

  function draw() {
    clusters.clearLayers();
    cones.clearLayers();
    state.markers.clear();
    const items = [];
    for (const camera of state.cameras) {
      const cameraState = healthState(camera, ctx.feed.health.get(camera.id));
      const openCount = state.open.get(camera.id) || 0;
      items.push(listItem(camera, cameraState, openCount));
      if (!hasPosition(camera)) continue;
      const marker = L.marker([camera.lat, camera.lon], {
        icon: cameraIcon(cameraState, openCount),
        title: camera.name,
        alt: camera.name,
        keyboard: true,
        citybrainTrouble: cameraState === 'offline' || openCount > 0,
      });
      marker.on('click', () => select(camera.id));
      clusters.addLayer(marker);
      state.markers.set(camera.id, marker);
      cones.addLayer(
        camera.footprint
          ? footprintLayer(camera, cameraState, openCount)
          : coneLayer(camera, cameraState, openCount),
      );
    }
    replace(list, items);
    showCones();
  }

  function listItem(camera, cameraState, openCount) {
    return h(
      'li',
      { class: state.selected === camera.id ? 'selected' : '' },
      h(
        'button',
        {
          class: 'ghost camera-button',
          onclick: () => select(camera.id),
          dataset: { camera: camera.id },
        },
        h('span', { class: `dot state-${cameraState}`, 'aria-hidden': 'true' }),
        camera.name,
        h('span', { class: 'muted' }, ` ${cameraState}`),
        openCount ? h('span', { class: 'pill open' }, `${openCount} open`) : null,
        hasPosition(camera) ? null : h('span', { class: 'muted' }, ' · not placed'),
      ),
    );
  }

  function showCones() {
    const visible = map.getZoom() >= CONE_MIN_ZOOM;
    if (visible && !map.hasLayer(cones)) cones.addTo(map);
    if (!visible && map.hasLayer(cones)) cones.remove();
  }

  async function select(cameraId) {
    state.selected = cameraId;
    const camera = state.cameras.find((c) => c.id === cameraId);
    if (!camera) return;
    const marker = state.markers.get(cameraId);
    if (marker) clusters.zoomToShowLayer(marker, () => map.panTo(marker.getLatLng()));
    for (const item of list.children)
      item.classList.toggle(
        'selected',
        item.querySelector('button')?.dataset.camera === String(cameraId),
      );
    const health = ctx.feed.health.get(cameraId) ?? camera.health;
    const video = VIDEO.includes(ctx.me.role) && camera.enabled;
    const recent = h('ol', { class: 'recent' }, h('li', { class: 'muted' }, 'Loading incidents…'));
    replace(
      detail,
      h('h2', {}, camera.name),
      h('p', { class: 'muted' }, healthText(health, camera)),
      video
        ? h('img', {
            class: 'live-preview',
            src: `/api/cameras/${camera.id}/live.mjpeg`,
            alt: `Live view of ${camera.name}`,
          })
        : null,
      h(
        'p',
        { class: 'toolbar' },
        video
          ? h('a', { class: 'button', href: `#/live?camera=${camera.id}` }, 'Open in Live')
          : null,
        ['admin', 'supervisor'].includes(ctx.me.role)
          ? h('a', { class: 'button', href: `#/cameras/${camera.id}` }, 'Set up')
          : null,
      ),
      h('h3', {}, 'Recent incidents'),
      recent,
    );
    try {
      const page = await api('/api/events', { query: { camera: cameraId, limit: 5 } });
      replace(
        recent,
        page.items.length
          ? page.items.map((e) =>
              h(
                'li',
                {},
                VIDEO.includes(ctx.me.role)
                  ? h('a', { href: `#/incidents/${e.id}` }, kindName(e.kind))
                  : kindName(e.kind),
                ` · ${e.rule} · ${fmtTime(e.started_at)} · `,
                h('span', { class: `pill ${e.status}` }, e.status),
              ),
            )
          : h('li', { class: 'muted' }, 'None in the retention window.'),
      );
    } catch (error) {
      replace(recent, h('li', { class: 'form-error' }, error.message));
    }
  }

  map.on('zoomend', showCones);
  await load();
  fit();
  const focus = Number(params.query.get('camera'));
  if (focus) select(focus);

  function fit() {
    const placed = state.cameras.filter(hasPosition);
    if (placed.length) {
      map.fitBounds(L.latLngBounds(placed.map((c) => [c.lat, c.lon])).pad(0.3), { maxZoom: 18 });
    } else if (ctx.settings.map_center) {
      map.setView(ctx.settings.map_center, 14);
    } else {
      map.setView([20, 0], 2);
    }
  }

  let redraw = null;
  const later = () => {
    clearTimeout(redraw);
    redraw = setTimeout(async () => {
      state.open = await openCounts();
      draw();
    }, 1500);
  };
  const stops = [ctx.feed.on('health', later), ctx.feed.on('event', later)];
  ctx.shortcuts.setPage('Map', [['Tab / Enter', 'Move through the cameras and open one']]);
  return () => {
    clearTimeout(redraw);
    sites?.stop();
    for (const stop of stops) stop();
    detail.querySelector('img')?.removeAttribute('src');
    map.remove();
  };
}

async function openCounts() {
  const counts = new Map();
  const page = await api('/api/events', {
    query: { status: ['open', 'acknowledged'], limit: 500 },
  });
  for (const event of page.items)
    counts.set(event.camera_id, (counts.get(event.camera_id) || 0) + 1);
  return counts;
}

function healthText(health, camera) {
  if (!camera.enabled) return 'Disabled';
  if (!health) return 'No health report yet';
  const parts = [health.online ? 'Online' : 'Offline', `${health.fps_in.toFixed(1)} fps`];
  if (health.lag_seconds !== null) parts.push(`lag ${health.lag_seconds.toFixed(1)} s`);
  if (health.last_error) parts.push(`last error: ${health.last_error}`);
  return parts.join(' · ');
}
