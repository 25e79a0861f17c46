// Rules and their parameters, as forms made from the server's JSON schema of the camera config
// (the Pydantic models that also validate YAML configs). Values are checked by the server on
// save; its errors come back to the field they name (see ErrorMap).
import { field, h, kindName, replace } from './dom.js';

const SKIP = new Set(['kind', 'schedule']);

/** Rule kinds and their field schemas, from CameraConfig's JSON schema. */
export function ruleKinds(schema) {
  const rules = schema.properties.rules;
  const entry = rules.additionalProperties ?? Object.values(rules.patternProperties)[0];
  const mapping = entry.discriminator.mapping;
  return Object.entries(mapping).map(([kind, ref]) => {
    const def = schema.$defs[ref.split('/').at(-1)];
    return { kind, title: def.properties.kind.description || kindName(kind), def };
  });
}

export class RuleForm {
  constructor(rules, kinds, labels, shapes, errors) {
    Object.assign(this, { kinds, labels, shapes, errors });
    this.rules = Object.entries(rules || {}).map(([name, rule]) => ({ name, rule: { ...rule } }));
    this.list = h('div', { class: 'rule-list' });
    this.el = h(
      'div',
      {},
      this.list,
      h('button', { type: 'button', onclick: () => this.add() }, 'Add rule'),
    );
    this.render();
  }

  add() {
    const kind = this.kinds[0].kind;
    let n = 1;
    while (this.rules.some((r) => r.name === `rule-${n}`)) n += 1;
    this.rules.push({ name: `rule-${n}`, rule: { kind } });
    this.render();
    this.list.lastElementChild?.querySelector('input')?.focus();
  }

  render() {
    replace(
      this.list,
      this.rules.map((entry, i) => this.card(entry, i)),
    );
  }

  card(entry, index) {
    const name = h('input', { value: entry.name, required: true });
    name.addEventListener('change', () => {
      entry.name = name.value.trim();
    });
    const kind = h(
      'select',
      {},
      this.kinds.map((k) =>
        h('option', { value: k.kind, selected: k.kind === entry.rule.kind }, kindName(k.kind)),
      ),
    );
    kind.addEventListener('change', () => {
      entry.rule = { kind: kind.value };
      this.render();
    });
    const spec = this.kinds.find((k) => k.kind === entry.rule.kind) ?? this.kinds[0];
    const fields = Object.entries(spec.def.properties)
      .filter(([key]) => !SKIP.has(key))
      .map(([key, prop]) => this.input(entry, key, prop, (spec.def.required || []).includes(key)));
    const nameField = field('Rule name', name);
    this.errors.register(`rules.${entry.name}`, nameField.showError);
    return h(
      'fieldset',
      { class: 'rule' },
      h('legend', {}, `${kindName(entry.rule.kind)}: ${entry.name}`),
      h('p', { class: 'muted' }, spec.title),
      h('div', { class: 'rule-fields' }, nameField, field('Kind', kind), fields),
      entry.rule.schedule
        ? h('p', { class: 'muted' }, 'Has a weekly schedule (kept as it is; edit it in YAML).')
        : null,
      h(
        'button',
        { type: 'button', class: 'danger', onclick: () => this.remove(index) },
        'Delete rule',
      ),
    );
  }

  remove(index) {
    this.rules.splice(index, 1);
    this.render();
  }

  input(entry, key, prop, required) {
    const rule = entry.rule;
    const plain = prop.anyOf ? (prop.anyOf.find((p) => p.type !== 'null') ?? prop) : prop;
    const title = prop.title || key;
    let control;
    if (key === 'zone' || key === 'line') {
      const names = this.shapes.names(key);
      if (rule[key] && !names.includes(rule[key])) names.push(rule[key]);
      control = h(
        'select',
        {},
        h('option', { value: '' }, `Choose a ${key}`),
        names.map((n) => h('option', { value: n, selected: n === rule[key] }, n)),
      );
      control.addEventListener('change', () => set(control.value || undefined));
    } else if (plain.type === 'boolean') {
      control = h('input', { type: 'checkbox', checked: rule[key] ?? prop.default ?? false });
      control.addEventListener('change', () => set(control.checked));
    } else if (plain.type === 'number' || plain.type === 'integer') {
      control = h('input', {
        type: 'number',
        step: plain.type === 'integer' ? '1' : 'any',
        min: plain.minimum ?? plain.exclusiveMinimum,
        max: plain.maximum ?? plain.exclusiveMaximum,
        placeholder: prop.default ?? '',
        value: rule[key] ?? '',
      });
      control.addEventListener('change', () =>
        set(control.value === '' ? undefined : Number(control.value)),
      );
    } else if (plain.type === 'array' && plain.items?.enum) {
      const chosen = new Set(rule[key] ?? prop.default ?? []);
      control = h(
        'span',
        { class: 'choices' },
        plain.items.enum.map((option) => {
          const box = h('input', { type: 'checkbox', checked: chosen.has(option) });
          box.addEventListener('change', () => {
            if (box.checked) chosen.add(option);
            else chosen.delete(option);
            set([...chosen]);
          });
          return h('label', { class: 'toggle' }, box, option);
        }),
      );
    } else if (plain.type === 'array') {
      control = h('input', {
        value: (rule[key] ?? []).join(', '),
        placeholder: (prop.default ?? []).join(', '),
        list: 'coco-labels',
      });
      control.addEventListener('change', () => {
        const items = control.value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        set(items.length ? items : undefined);
      });
    } else {
      control = h('input', { value: rule[key] ?? '', placeholder: prop.default ?? '' });
      control.addEventListener('change', () => set(control.value.trim() || undefined));
    }
    function set(value) {
      if (value === undefined) delete rule[key];
      else rule[key] = value;
    }
    const wrap = field(`${title}${required ? ' (required)' : ''}`, control, prop.description);
    this.errors.register(`rules.${entry.name}.${key}`, wrap.showError);
    return wrap;
  }

  /** The rules as a config section. */
  section() {
    return Object.fromEntries(this.rules.map((r) => [r.name, r.rule]));
  }

  /** A datalist of the object labels the server knows (COCO names). */
  datalist() {
    return h(
      'datalist',
      { id: 'coco-labels' },
      this.labels.map((l) => h('option', { value: l })),
    );
  }
}

/** Where the server's validation errors go: the field whose path is the longest match. */
export class ErrorMap {
  constructor(general) {
    this.general = general;
    this.targets = new Map();
  }

  register(path, show) {
    this.targets.set(path, show);
  }

  clear() {
    for (const show of this.targets.values()) show('');
    replace(this.general);
  }

  /** Show a 422 answer's errors ([{loc, msg}] or a string) next to their fields. */
  show(detail, kinds) {
    this.clear();
    const errors = Array.isArray(detail) ? detail : [{ loc: [], msg: String(detail) }];
    const left = [];
    for (const error of errors) {
      let parts = (error.loc || []).slice(1); // drop "body"
      if (parts[0] === 'config') parts = parts.slice(1);
      let message = String(error.msg || '').replace(/^Value error, /, '');
      const named =
        /^((?:zones|lines|rules)\.[A-Za-z0-9_.-]+?(?:\.(?:zone|line|polygon|points))?): (.*)$/.exec(
          message,
        );
      if (!parts.length && named) {
        parts = named[1].split('.');
        message = named[2];
      }
      parts = parts.map(String).filter((p) => !kinds.includes(p));
      if (!this.place(parts, message)) left.push(`${parts.join('.') || 'camera'}: ${message}`);
    }
    replace(
      this.general,
      left.map((text) => h('li', {}, text)),
    );
  }

  place(parts, message) {
    for (let n = parts.length; n > 0; n -= 1) {
      const show = this.targets.get(parts.slice(0, n).join('.'));
      if (show) {
        show(message);
        return true;
      }
    }
    return false;
  }
}
