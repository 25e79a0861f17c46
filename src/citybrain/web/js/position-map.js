// A camera's position and field of view, set by dragging on a map: the camera marker moves
// the camera, the handle at the cone's tip turns it (heading) and sets its range. The numeric
// fields stay in step both ways; a click on the map places a camera that has no position.
import { h } from './dom.js';
import { bearingTo, makeMap, offset, sector } from './map-layers.js';

export class PositionMap {
  /** inputs: {lat, lon, heading_deg, fov_deg, range_m} number <input>s. */
  constructor(settings, inputs) {
    this.inputs = inputs;
    this.el = h('div', {
      class: 'position-map',
      role: 'region',
      'aria-label': 'Camera position: drag the camera or the cone’s tip',
    });
    this.settings = settings;
    this.map = null;
  }

  /** Call once the element is in the document (Leaflet measures it). */
  attach() {
    const L = window.L;
    this.map = makeMap(this.el, this.settings, { maxZoom: this.settings.tile_max_zoom || 19 });
    this.cone = L.polygon([[0, 0]], { className: 'cone state-online', interactive: false });
    this.camera = L.marker([0, 0], {
      draggable: true,
      title: 'Camera: drag to move',
      icon: L.divIcon({ className: 'cam-marker state-online', iconSize: [22, 22] }),
    });
    this.tip = L.marker([0, 0], {
      draggable: true,
      title: 'Heading and range: drag to turn',
      icon: L.divIcon({ className: 'cone-handle', iconSize: [16, 16] }),
    });
    this.camera.on('drag', () => this.fromCamera());
    this.tip.on('drag', () => this.fromTip());
    this.map.on('click', (event) => {
      if (this.position()) return;
      this.write({ lat: event.latlng.lat, lon: event.latlng.lng });
      this.draw();
    });
    for (const input of Object.values(this.inputs))
      input.addEventListener('input', () => this.draw(true));
    const at = this.position();
    if (at) this.map.setView([at.lat, at.lon], 18);
    else if (this.settings.map_center) this.map.setView(this.settings.map_center, 15);
    else this.map.setView([20, 0], 2);
    this.draw();
  }

  position() {
    const lat = Number.parseFloat(this.inputs.lat.value);
    const lon = Number.parseFloat(this.inputs.lon.value);
    return Number.isFinite(lat) && Number.isFinite(lon) ? { lat, lon } : null;
  }

  view() {
    const num = (input, fallback) => {
      const v = Number.parseFloat(input.value);
      return Number.isFinite(v) ? v : fallback;
    };
    return {
      heading: num(this.inputs.heading_deg, 0),
      fov: num(this.inputs.fov_deg, 60),
      range: num(this.inputs.range_m, 30),
    };
  }

  write(values) {
    const digits = { lat: 6, lon: 6, heading_deg: 0, fov_deg: 0, range_m: 0 };
    for (const [key, value] of Object.entries(values))
      this.inputs[key].value = value.toFixed(digits[key]);
  }

  draw(pan = false) {
    const at = this.position();
    const layers = [this.cone, this.camera, this.tip];
    if (!at) {
      for (const layer of layers) layer.remove();
      return;
    }
    const { heading, fov, range } = this.view();
    this.cone.setLatLngs(sector(at.lat, at.lon, heading, fov, range));
    this.camera.setLatLng([at.lat, at.lon]);
    this.tip.setLatLng(offset(at.lat, at.lon, (heading * Math.PI) / 180, range));
    for (const layer of layers) if (!this.map.hasLayer(layer)) layer.addTo(this.map);
    if (pan) this.map.panTo([at.lat, at.lon]);
  }

  fromCamera() {
    const p = this.camera.getLatLng();
    this.write({ lat: p.lat, lon: p.lng });
    this.draw();
  }

  fromTip() {
    const at = this.position();
    const { bearing, distance } = bearingTo({ lat: at.lat, lng: at.lon }, this.tip.getLatLng());
    this.write({ heading_deg: bearing, range_m: Math.max(1, distance) });
    const { heading, fov, range } = this.view();
    this.cone.setLatLngs(sector(at.lat, at.lon, heading, fov, range));
  }

  dispose() {
    this.map?.remove();
  }
}
