// Map pieces shared by the map page and the camera editor: the basemap (none unless an admin
// configured a tile URL), field-of-view cones as GeoJSON-like sectors, and camera markers
// coloured by health and open incidents. Leaflet is the UMD global `L`.

const EARTH_M = 6371008.8;

/** The corners of a camera's field of view: apex, then the arc (heading, fov in degrees). */
export function sector(lat, lon, headingDeg, fovDeg, rangeM, steps = 24) {
  const fov = Math.min(360, fovDeg || 60);
  const range = rangeM || 30;
  const heading = headingDeg || 0;
  const points = fov >= 360 ? [] : [[lat, lon]];
  for (let i = 0; i <= steps; i += 1) {
    const bearing = ((heading - fov / 2 + (fov * i) / steps) * Math.PI) / 180;
    points.push(offset(lat, lon, bearing, range));
  }
  return points;
}

/** The point `distance` metres from (lat, lon) along `bearing` radians (small distances). */
export function offset(lat, lon, bearing, distance) {
  const dLat = (distance * Math.cos(bearing)) / EARTH_M;
  const dLon = (distance * Math.sin(bearing)) / (EARTH_M * Math.cos((lat * Math.PI) / 180));
  return [lat + (dLat * 180) / Math.PI, lon + (dLon * 180) / Math.PI];
}

/** Bearing in degrees (0 = north) and distance in metres from a to b (small distances). */
export function bearingTo(a, b) {
  const y = (b.lat - a.lat) * (Math.PI / 180) * EARTH_M;
  const x = (b.lng - a.lng) * (Math.PI / 180) * EARTH_M * Math.cos((a.lat * Math.PI) / 180);
  const bearing = ((Math.atan2(x, y) * 180) / Math.PI + 360) % 360;
  return { bearing, distance: Math.hypot(x, y) };
}

/** A Leaflet map with a scale bar and, when configured, the admin's tile layer. */
export function makeMap(element, settings, options = {}) {
  const L = window.L;
  const map = L.map(element, { zoomControl: true, attributionControl: false, ...options });
  L.control.scale({ imperial: false }).addTo(map);
  if (settings.tile_url) {
    L.control.attribution({ prefix: false }).addTo(map);
    L.tileLayer(settings.tile_url, {
      maxZoom: settings.tile_max_zoom,
      attribution: settings.tile_attribution,
    }).addTo(map);
  } else {
    element.classList.add('no-basemap');
  }
  return map;
}

/** The health state of a camera: online, offline, disabled or unknown. */
export function healthState(camera, health) {
  if (!camera.enabled) return 'disabled';
  const report = health ?? camera.health;
  if (!report) return 'unknown';
  return report.online ? 'online' : 'offline';
}

export function hasPosition(camera) {
  return camera.lat !== null && camera.lon !== null;
}

/** Icon sizes follow the root font size, so markers read as well on a wall as on a laptop. */
export function iconPx(rems) {
  const rem = Number.parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  return Math.round(rems * rem);
}

/** A divIcon marker for a camera: the class says its state, the text its open incidents. */
export function cameraIcon(state, openCount) {
  const L = window.L;
  const size = iconPx(1.8);
  return L.divIcon({
    className: `cam-marker state-${state}${openCount ? ' has-open' : ''}`,
    html: openCount ? String(Math.min(openCount, 99)) : '',
    iconSize: [size, size],
  });
}

/** A camera's cone as a Leaflet polygon (styled by CSS classes, no inline styles). */
export function coneLayer(camera, state, openCount) {
  const L = window.L;
  const points = sector(camera.lat, camera.lon, camera.heading_deg, camera.fov_deg, camera.range_m);
  return L.polygon(points, {
    className: `cone state-${state}${openCount ? ' has-open' : ''}`,
    interactive: false,
  });
}

/** Cluster icons that say how many cameras and whether any of them is in trouble. */
export function clusterIcon(cluster) {
  const L = window.L;
  const markers = cluster.getAllChildMarkers();
  const trouble = markers.some((m) => m.options.citybrainTrouble);
  return L.divIcon({
    className: `cam-cluster${trouble ? ' trouble' : ''}`,
    html: String(cluster.getChildCount()),
    iconSize: [iconPx(2.4), iconPx(2.4)],
  });
}
