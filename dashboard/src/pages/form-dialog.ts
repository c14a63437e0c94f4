import { describeError } from '../api';
import { type Child, h, openDialog } from '../dom';

/**
 * A modal dialog holding a form: the fields, a message region and a submit button. The dialog
 * stays open with the server's message when `submit` fails (so a typo can be fixed), and closes
 * when it succeeds; Escape or Close cancel.
 */
export function openFormDialog(options: {
  title: string;
  fields: Child[];
  submitLabel: string;
  danger?: boolean;
  submit: () => Promise<void>;
}): HTMLDialogElement {
  const message = h('p', { class: 'error', role: 'alert' });
  const submit = h(
    'button',
    { type: 'submit', class: options.danger ? 'danger' : 'primary' },
    options.submitLabel,
  );
  const form = h('form', { class: 'dialog-form' }, ...options.fields, message, submit);
  const dialog = openDialog(options.title, form);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    options
      .submit()
      .then(() => dialog.close())
      .catch((error) => {
        message.textContent = describeError(error);
        submit.disabled = false;
      });
  });
  // The first field, not Close, takes focus: the dialog was opened to be filled in.
  form.querySelector<HTMLElement>('input, select, textarea')?.focus();
  return dialog;
}
