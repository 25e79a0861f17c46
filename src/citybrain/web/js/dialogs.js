// Small modal dialogs built on <dialog> (focus is trapped and restored by the browser).
import { field, h } from './dom.js';

/** Ask for an optional note; resolves to the note ('' allowed) or null when cancelled. */
export function askNote(title, action) {
  return new Promise((resolve) => {
    const note = h('textarea', { name: 'note', rows: '4', maxlength: '4000' });
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'note-title' },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: 'note-title' }, title),
        field('Note', note, 'Optional: what was done, for whoever reads the history.'),
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { value: 'cancel', formnovalidate: true }, 'Cancel'),
          h('button', { value: 'ok', class: 'primary' }, action),
        ),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok' ? note.value.trim() : null);
      dialog.remove();
    });
    note.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) dialog.close('ok');
    });
    document.body.append(dialog);
    dialog.showModal();
    note.focus();
  });
}

/** A form in a dialog: `build(form)` adds fields; resolves true on submit, false on cancel. */
export function formDialog(title, action, build, onSubmit) {
  return new Promise((resolve) => {
    const error = h('p', { class: 'form-error', role: 'alert' });
    const form = h('form', {}, h('h2', {}, title));
    build(form);
    const cancel = h('button', { type: 'button' }, 'Cancel');
    form.append(
      error,
      h('div', { class: 'dialog-actions' }, cancel, h('button', { class: 'primary' }, action)),
    );
    const dialog = h('dialog', {}, form);
    let done = false;
    cancel.addEventListener('click', () => dialog.close());
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        await onSubmit(form);
        done = true;
        dialog.close();
      } catch (exc) {
        error.textContent = exc.message;
      }
    });
    dialog.addEventListener('close', () => {
      resolve(done);
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
