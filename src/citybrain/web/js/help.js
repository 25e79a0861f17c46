// Keyboard shortcuts: a registry per page, the global ones, and the help overlay on "?".
import { h, replace } from './dom.js';

const GLOBAL = [
  ['?', 'Show or hide this help'],
  ['g then m / l / i / d / c / a', 'Go to Map, Live, Incidents, Dashboard, Cameras, Audit'],
  ['Esc', 'Close a dialog or the enlarged view'],
];

export class Shortcuts {
  constructor(navigate) {
    this.navigate = navigate;
    this.page = { title: '', keys: [] };
    this.pendingG = false;
    this.dialog = h('dialog', { class: 'help', 'aria-labelledby': 'help-title' });
    document.body.append(this.dialog);
    document.addEventListener('keydown', (event) => this.onKey(event));
  }

  /** The current page's shortcuts: [[keys, what], …]. */
  setPage(title, keys) {
    this.page = { title, keys };
  }

  onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target)) return;
    if (event.key === '?') {
      event.preventDefault();
      this.toggle();
    } else if (this.pendingG) {
      this.pendingG = false;
      const page = { m: 'map', l: 'live', i: 'incidents', d: 'dashboard', c: 'cameras' }[event.key];
      const target = page ?? (event.key === 'a' ? 'audit' : null);
      if (target) {
        event.preventDefault();
        this.navigate(target);
      }
    } else if (event.key === 'g' && !this.dialog.open) {
      this.pendingG = true;
      setTimeout(() => {
        this.pendingG = false;
      }, 1500);
    }
  }

  toggle() {
    if (this.dialog.open) {
      this.dialog.close();
      return;
    }
    const rows = (keys) =>
      keys.map(([key, what]) =>
        h('tr', {}, h('th', { scope: 'row' }, h('kbd', {}, key)), h('td', {}, what)),
      );
    replace(
      this.dialog,
      h('h2', { id: 'help-title' }, 'Keyboard shortcuts'),
      this.page.keys.length ? h('h3', {}, this.page.title) : null,
      this.page.keys.length ? h('table', {}, h('tbody', {}, rows(this.page.keys))) : null,
      h('h3', {}, 'Everywhere'),
      h('table', {}, h('tbody', {}, rows(GLOBAL))),
      h('form', { method: 'dialog' }, h('button', { class: 'primary' }, 'Close')),
    );
    this.dialog.showModal();
  }
}

/** Whether a key press belongs to a text field (shortcuts stay out of its way). */
export function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  if (target instanceof HTMLTextAreaElement || target instanceof HTMLSelectElement) return true;
  if (!(target instanceof HTMLInputElement)) return false;
  return !['checkbox', 'radio', 'button', 'submit', 'range'].includes(target.type);
}
