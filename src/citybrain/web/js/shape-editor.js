// Zones (polygons) and lines drawn on a camera's current anonymised frame. Coordinates are
// normalised to 0..1 of the image, as in the camera config. Click to add corners; a zone ends
// with "Finish zone", Enter or a double click, a line after its second point. Corners drag.
import { h, replace, svg } from './dom.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export class ShapeEditor {
  constructor(config, frameUrl) {
    this.shapes = [
      ...Object.entries(config.zones || {}).map(([name, z]) => ({
        type: 'zone',
        name,
        points: z.polygon.map((p) => [...p]),
        anchor: z.anchor,
      })),
      ...Object.entries(config.lines || {}).map(([name, l]) => ({
        type: 'line',
        name,
        points: l.points.map((p) => [...p]),
        anchor: l.anchor,
      })),
    ];
    this.drawing = null;
    this.drag = null;
    this.img = h('img', { class: 'frame', alt: 'The camera’s current anonymised frame' });
    this.overlay = svg('svg', { class: 'shapes', role: 'presentation' });
    this.hint = h('p', { class: 'muted', role: 'status' });
    this.list = h('div', { class: 'shape-list' });
    this.finishButton = h(
      'button',
      { type: 'button', hidden: true, onclick: () => this.finish() },
      'Finish zone',
    );
    this.cancelButton = h(
      'button',
      { type: 'button', hidden: true, onclick: () => this.cancel() },
      'Cancel drawing',
    );
    this.stage = h('div', { class: 'frame-stage' }, this.img, this.overlay);
    this.el = h(
      'div',
      { class: 'shape-editor' },
      h(
        'div',
        { class: 'toolbar' },
        h('button', { type: 'button', onclick: () => this.start('zone') }, 'Draw zone'),
        h('button', { type: 'button', onclick: () => this.start('line') }, 'Draw line'),
        this.finishButton,
        this.cancelButton,
        h(
          'button',
          { type: 'button', class: 'ghost', onclick: () => this.loadFrame() },
          'New frame',
        ),
      ),
      this.hint,
      this.stage,
      this.list,
    );
    this.frameUrl = frameUrl;
    this.overlay.addEventListener('pointerdown', (e) => this.onDown(e));
    this.overlay.addEventListener('pointermove', (e) => this.onMove(e));
    this.overlay.addEventListener('pointerup', () => {
      this.drag = null;
    });
    this.overlay.addEventListener('dblclick', () => this.finish());
    this.el.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && this.drawing && e.target === this.stage) this.finish();
      if (e.key === 'Escape' && this.drawing) this.cancel();
    });
    this.img.addEventListener('load', () => this.render());
    new ResizeObserver(() => this.render()).observe(this.stage);
    this.loadFrame();
    this.renderList();
  }

  loadFrame() {
    if (!this.frameUrl) {
      this.hint.textContent =
        'Save the camera first: its frame appears once it runs. You can still draw on the blank area.';
      this.stage.classList.add('blank');
      return;
    }
    this.img.onerror = () => {
      this.hint.textContent =
        'No frame yet (the camera may be starting, disabled or unreachable): draw on the blank area or try “New frame”.';
      this.stage.classList.add('blank');
    };
    this.stage.classList.remove('blank');
    this.img.src = `${this.frameUrl}?t=${Date.now()}`;
  }

  start(type) {
    this.drawing = { type, points: [] };
    this.finishButton.hidden = type !== 'zone';
    this.cancelButton.hidden = false;
    this.stage.tabIndex = 0;
    this.stage.focus();
    this.hint.textContent =
      type === 'zone'
        ? 'Click the zone’s corners, then “Finish zone” (or Enter, or double-click).'
        : 'Click the line’s two end points.';
    this.render();
  }

  cancel() {
    this.drawing = null;
    this.finishButton.hidden = true;
    this.cancelButton.hidden = true;
    this.hint.textContent = '';
    this.render();
  }

  finish() {
    const d = this.drawing;
    if (!d) return;
    const need = d.type === 'zone' ? 3 : 2;
    if (d.points.length < need) {
      this.hint.textContent = `A ${d.type} needs at least ${need} points.`;
      return;
    }
    const base = d.type;
    let n = 1;
    while (this.shapes.some((s) => s.name === `${base}-${n}`)) n += 1;
    this.shapes.push({
      type: d.type,
      name: `${base}-${n}`,
      points: d.points,
      anchor: 'bottom_center',
    });
    this.cancel();
    this.hint.textContent = `Added ${base}-${n}: give it a name below, then save.`;
    this.renderList();
    this.list.querySelector('.shape:last-child input')?.focus();
  }

  point(event) {
    const rect = this.overlay.getBoundingClientRect();
    const clamp = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
    return [
      clamp((event.clientX - rect.left) / rect.width),
      clamp((event.clientY - rect.top) / rect.height),
    ];
  }

  onDown(event) {
    const vertex = event.target.dataset?.vertex;
    if (vertex && !this.drawing) {
      const [shape, index] = vertex.split(':').map(Number);
      this.drag = { shape, index };
      this.overlay.setPointerCapture(event.pointerId);
      return;
    }
    if (!this.drawing || event.detail > 1) return;
    this.drawing.points.push(this.point(event));
    if (this.drawing.type === 'line' && this.drawing.points.length === 2) this.finish();
    else this.render();
  }

  onMove(event) {
    if (!this.drag) return;
    this.shapes[this.drag.shape].points[this.drag.index] = this.point(event);
    this.render();
    this.renderList(false);
  }

  render() {
    const w = this.stage.clientWidth || 1;
    const ht = this.stage.clientHeight || 1;
    this.overlay.setAttribute('viewBox', `0 0 ${w} ${ht}`);
    const px = (p) => `${p[0] * w},${p[1] * ht}`;
    const nodes = [];
    this.shapes.forEach((shape, i) => {
      const tag = shape.type === 'zone' ? 'polygon' : 'polyline';
      nodes.push(
        svg(tag, { class: `shape ${shape.type}`, points: shape.points.map(px).join(' ') }),
      );
      const [x, y] = shape.points[0];
      const label = svg('text', { x: x * w + 6, y: y * ht - 6, class: 'shape-label' });
      label.textContent = shape.name;
      nodes.push(label);
      shape.points.forEach((p, j) => {
        nodes.push(
          svg('circle', {
            cx: p[0] * w,
            cy: p[1] * ht,
            r: 6,
            class: 'vertex',
            'data-vertex': `${i}:${j}`,
          }),
        );
      });
    });
    if (this.drawing?.points.length) {
      nodes.push(
        svg('polyline', { class: 'shape drawing', points: this.drawing.points.map(px).join(' ') }),
      );
      for (const p of this.drawing.points)
        nodes.push(svg('circle', { cx: p[0] * w, cy: p[1] * ht, r: 5, class: 'vertex drawing' }));
    }
    this.overlay.replaceChildren(...nodes);
  }

  renderList(full = true) {
    if (!full) {
      this.shapes.forEach((shape, i) => {
        const input = this.list.querySelector(`[data-points="${i}"]`);
        if (input) input.value = pointsText(shape.points);
      });
      return;
    }
    replace(
      this.list,
      this.shapes.map((shape, i) => {
        const name = h('input', {
          value: shape.name,
          'aria-label': `Name of ${shape.type} ${this.shapes.slice(0, i + 1).filter((x) => x.type === shape.type).length}`,
          required: true,
          pattern: NAME.source,
          dataset: { path: `${shape.type}s.${shape.name}` },
        });
        name.addEventListener('change', () => {
          shape.name = name.value.trim();
          this.render();
        });
        const anchor = h(
          'select',
          { 'aria-label': 'Anchor' },
          [
            ['bottom_center', 'feet / wheels'],
            ['center', 'centre'],
          ].map(([v, t]) => h('option', { value: v, selected: v === shape.anchor }, t)),
        );
        anchor.addEventListener('change', () => {
          shape.anchor = anchor.value;
        });
        const points = h('input', {
          class: 'points',
          value: pointsText(shape.points),
          'aria-label': `Points of ${shape.name} (x,y; …)`,
          dataset: { points: i },
        });
        points.addEventListener('change', () => {
          const parsed = parsePoints(points.value);
          if (parsed) {
            shape.points = parsed;
            this.render();
          } else points.setAttribute('aria-invalid', '');
        });
        return h(
          'div',
          { class: 'shape' },
          h('span', { class: `pill ${shape.type}` }, shape.type),
          name,
          anchor,
          points,
          h('button', { type: 'button', class: 'danger', onclick: () => this.remove(i) }, 'Delete'),
        );
      }),
    );
    this.render();
  }

  remove(index) {
    this.shapes.splice(index, 1);
    this.renderList();
  }

  /** The zones and lines as config sections. */
  sections() {
    const zones = {};
    const lines = {};
    for (const s of this.shapes) {
      if (s.type === 'zone')
        zones[s.name] = { polygon: s.points, anchor: s.anchor || 'bottom_center' };
      else lines[s.name] = { points: s.points, anchor: s.anchor || 'bottom_center' };
    }
    return { zones, lines };
  }

  names(type) {
    return this.shapes.filter((s) => s.type === type).map((s) => s.name);
  }
}

function pointsText(points) {
  return points.map((p) => `${p[0]},${p[1]}`).join('; ');
}

function parsePoints(text) {
  const points = text.split(';').map((pair) => pair.split(',').map(Number));
  return points.every((p) => p.length === 2 && p.every((v) => v >= 0 && v <= 1)) ? points : null;
}
