// Camera set-up (admins, supervisors): name, sources and enabled; position and field of view
// dragged on a map; zones and lines drawn on the current anonymised frame; rules with their
// parameters. Saving sends one create or change; the server validates the whole config with
// the same schema as YAML files and its errors appear next to the fields they name. The
// runtime applies the change without a restart.
import { api } from '../api.js';
import { field, h, replace, statusLine } from '../dom.js';
import { PositionMap } from '../position-map.js';
import { ErrorMap, RuleForm, ruleKinds } from '../rule-form.js';
import { ShapeEditor } from '../shape-editor.js';

const GEO = ['lat', 'lon', 'heading_deg', 'fov_deg', 'range_m'];
const GEO_LABELS = {
  lat: 'Latitude',
  lon: 'Longitude',
  heading_deg: 'Heading (° from north)',
  fov_deg: 'Field of view (°)',
  range_m: 'Range (m)',
};
const GEO_LIMITS = {
  lat: [-90, 90],
  lon: [-180, 180],
  heading_deg: [0, 360],
  fov_deg: [1, 360],
  range_m: [1, 100000],
};

export async function mount(root, ctx, params) {
  const isNew = params.id === 'new';
  const [camera, schema] = await Promise.all([
    isNew ? Promise.resolve(null) : api(`/api/cameras/${encodeURIComponent(params.id)}`),
    api('/api/console/config-schema'),
  ]);
  const config = camera?.config ?? {};
  const kinds = ruleKinds(schema);
  const general = h('ul', { class: 'form-error', role: 'alert' });
  const errors = new ErrorMap(general);
  const info = statusLine();

  const name = h('input', {
    name: 'name',
    required: true,
    value: camera?.name ?? '',
    maxlength: '100',
  });
  const source = h('input', {
    name: 'source',
    required: isNew,
    placeholder: isNew
      ? 'rtsp://user:password@host/stream or a file under the media roots'
      : `unchanged (${camera.source})`,
  });
  // A low-resolution substream to analyse (cheaper to decode than the main stream).
  const analysis = h('input', {
    name: 'analysis_source',
    placeholder: camera?.analysis_source
      ? `unchanged (${camera.analysis_source})`
      : 'optional: a substream, e.g. rtsp://user:password@host/sub',
  });
  const mainOnly = camera?.analysis_source ? h('input', { type: 'checkbox' }) : null;
  const enabled = h('input', { type: 'checkbox', checked: camera?.enabled ?? true });
  const fps = h('input', {
    type: 'number',
    min: '0.1',
    max: '60',
    step: 'any',
    placeholder: '5',
    value: config.camera?.fps ?? '',
  });
  const identity = [
    field('Name', name),
    field('Source', source, 'Never shown again in full: credentials are stored, not returned.'),
    field(
      'Analysis stream',
      analysis,
      'Optional: a low-resolution stream of the same camera that the engine analyses instead ' +
        'of the source. Never shown again in full.',
    ),
    field('Analysis rate (frames/s)', fps),
    h('label', { class: 'toggle' }, enabled, 'Enabled'),
  ];
  if (mainOnly)
    identity.push(h('label', { class: 'toggle' }, mainOnly, 'Analyse the source itself'));
  errors.register('name', identity[0].showError);
  errors.register('source', identity[1].showError);
  errors.register('analysis_source', identity[2].showError);
  errors.register('camera.fps', identity[3].showError);

  const geoInputs = {};
  const geoFields = GEO.map((key) => {
    const [min, max] = GEO_LIMITS[key];
    geoInputs[key] = h('input', {
      type: 'number',
      step: 'any',
      min,
      max,
      name: key,
      value: camera?.[key] ?? '',
    });
    const wrap = field(GEO_LABELS[key], geoInputs[key]);
    errors.register(key, wrap.showError);
    return wrap;
  });
  const position = new PositionMap(ctx.settings, geoInputs);

  const frameUrl = camera?.enabled ? `/api/cameras/${camera.id}/frame.jpg` : null;
  const shapes = new ShapeEditor(config, frameUrl);
  const shapeErrors = h('p', { class: 'form-error', role: 'alert' });
  errors.register('zones', (m) => (shapeErrors.textContent = m ? `zones: ${m}` : ''));
  errors.register('lines', (m) => (shapeErrors.textContent = m ? `lines: ${m}` : ''));
  const rules = new RuleForm(config.rules, kinds, ctx.settings.labels, shapes, errors);
  const save = h('button', { type: 'submit', class: 'primary' }, isNew ? 'Add camera' : 'Save');
  const health = camera?.health;

  replace(
    root,
    h('p', {}, h('a', { href: '#/cameras' }, '← Cameras')),
    h('h1', {}, isNew ? 'New camera' : `Camera: ${camera.name}`),
    camera
      ? h(
          'p',
          { class: 'muted' },
          health
            ? `${health.online ? 'Online' : 'Offline'} · ${health.fps_in.toFixed(1)} fps${health.decoder && health.decoder !== 'software' ? ` · decoded on ${health.decoder}` : ''}${health.last_error ? ` · last error: ${health.last_error}` : ''}`
            : 'No health report yet.',
        )
      : null,
    h(
      'form',
      { class: 'camera-form', onsubmit: submit, novalidate: true },
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Camera'),
        h('div', { class: 'form-row' }, identity),
      ),
      h(
        'section',
        { class: 'panel' },
        h('h2', {}, 'Position and field of view'),
        h('div', { class: 'form-row' }, geoFields),
        position.el,
      ),
      h('section', { class: 'panel' }, h('h2', {}, 'Zones and lines'), shapes.el, shapeErrors),
      h('section', { class: 'panel' }, h('h2', {}, 'Rules'), rules.el, rules.datalist()),
      general,
      h('div', { class: 'toolbar sticky-actions' }, save, info),
    ),
  );
  position.attach();

  function body() {
    const { zones, lines } = shapes.sections();
    const section = { ...(config.camera || {}) };
    if (fps.value) section.fps = Number(fps.value);
    else delete section.fps;
    const next = { ...config, zones, lines, rules: rules.section() };
    if (Object.keys(section).length) next.camera = section;
    else delete next.camera;
    const out = { name: name.value.trim(), enabled: enabled.checked, config: next };
    if (source.value.trim()) out.source = source.value.trim();
    if (analysis.value.trim()) out.analysis_source = analysis.value.trim();
    else if (mainOnly?.checked) out.analysis_source = null;
    for (const key of GEO) {
      const raw = geoInputs[key].value;
      const value = raw === '' ? null : Number(raw);
      if (!isNew || value !== null) out[key] = value;
    }
    return out;
  }

  async function submit(event) {
    event.preventDefault();
    errors.clear();
    shapeErrors.textContent = '';
    save.disabled = true;
    info.textContent = 'Saving…';
    try {
      const saved = isNew
        ? await api('/api/cameras', { method: 'POST', body: body() })
        : await api(`/api/cameras/${camera.id}`, { method: 'PATCH', body: body() });
      info.textContent = 'Saved: the camera runs with it now.';
      if (isNew) ctx.navigate(`cameras/${saved.id}`);
    } catch (error) {
      info.textContent =
        error.status === 422
          ? 'Not saved: see the errors next to the fields.'
          : `Not saved: ${error.message}`;
      errors.show(
        error.detail,
        kinds.map((k) => k.kind),
      );
    } finally {
      save.disabled = false;
    }
  }

  ctx.shortcuts.setPage('Camera set-up', [
    ['Enter (on the frame)', 'Finish the zone being drawn'],
    ['Esc (on the frame)', 'Cancel drawing'],
  ]);
  return () => position.dispose();
}
