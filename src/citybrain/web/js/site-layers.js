// City data on the map: the outlines of the sites valid now (permits, road works, facilities,
// restricted areas, no-parking zones) in the map's view, coloured by kind, and the coverage
// layer: the parts of the chosen sites no enabled, online camera sees. Planning for places,
// never for people. Styled by CSS classes only (the CSP allows no inline styles).
import { api } from './api.js';
import { fmtTime } from './dom.js';

const MAX_SITES = 2000;
const KINDS = new Set([
  'construction_permit',
  'road_works',
  'facility',
  'restricted_area',
  'no_parking',
]);

/** A readable kind: construction_permit -> construction permit. */
export function siteKindName(kind) {
  return String(kind).replaceAll('_', ' ');
}

/** A site's validity in words. */
export function validity(properties) {
  const from = properties.valid_from ? fmtTime(properties.valid_from) : 'open';
  const to = properties.valid_to ? fmtTime(properties.valid_to) : 'open';
  return `${from} – ${to}`;
}

function kindClass(kind) {
  return KINDS.has(kind) ? `kind-${kind}` : 'kind-other';
}

/** A Leaflet layer of the sites valid now in the map's view, reloaded as the view moves. */
export function sitesLayer(map) {
  const L = window.L;
  const layer = L.geoJSON(null, {
    style: (feature) => ({ className: `site ${kindClass(feature.properties.kind)}` }),
    onEachFeature: (feature, path) => {
      const p = feature.properties;
      path.bindTooltip(`${p.name} · ${siteKindName(p.kind)} · ${validity(p)}`, {
        sticky: true,
      });
    },
  });
  let timer = null;
  let asked = 0;

  async function load() {
    if (!map.hasLayer(layer)) return;
    const bounds = map.getBounds();
    const bbox = [
      Math.max(-180, bounds.getWest()),
      Math.max(-90, bounds.getSouth()),
      Math.min(180, bounds.getEast()),
      Math.min(90, bounds.getNorth()),
    ]
      .map((v) => v.toFixed(6))
      .join(',');
    const ask = ++asked;
    try {
      const page = await api('/api/sites', {
        query: { bbox, active_at: new Date().toISOString(), limit: MAX_SITES },
      });
      if (ask !== asked) return; // a later view's answer wins
      layer.clearLayers();
      layer.addData(page);
    } catch {
      // an auditor (no access) or a failed read: the layer stays as it was
    }
  }

  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(load, 300);
  };
  map.on('moveend', later);
  layer.on('add', later);
  return { layer, load, stop: () => clearTimeout(timer) };
}

/** A Leaflet layer of the parts of sites no counted camera sees (GET /api/coverage). */
export function coverageLayer() {
  const L = window.L;
  const layer = L.geoJSON(null, {
    style: () => ({ className: 'uncovered' }),
    onEachFeature: (feature, path) => {
      const p = feature.properties;
      path.bindTooltip(
        `${p.name} · ${siteKindName(p.kind)} · ${(p.share * 100).toFixed(0)} % seen by cameras`,
        { sticky: true },
      );
    },
  });

  async function load() {
    try {
      const report = await api('/api/coverage', { query: { geometry: true } });
      layer.clearLayers();
      for (const site of report.sites) {
        if (!site.uncovered?.coordinates?.length) continue;
        layer.addData({ type: 'Feature', geometry: site.uncovered, properties: site });
      }
    } catch {
      // not allowed (operators) or failed: nothing drawn
    }
  }

  layer.on('add', load);
  return { layer, load };
}

/** The camera's ground footprint from the API (drawn or its view's sector), as a polygon. */
export function footprintLayer(camera, state, openCount) {
  const L = window.L;
  return L.geoJSON(camera.footprint, {
    style: () => ({
      className: `cone footprint state-${state}${openCount ? ' has-open' : ''}`,
      interactive: false,
    }),
  });
}
