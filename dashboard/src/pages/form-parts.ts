import { describeError } from '../api';
import { h } from '../dom';

/** An alert for failures and a status line for successes: assistive technology reads both. */
export function feedback() {
  const alert = h('p', { class: 'error', role: 'alert' });
  const done = h('p', { class: 'notice', role: 'status' });
  return {
    element: h('div', {}, alert, done),
    ok(text: string) {
      alert.textContent = '';
      done.textContent = text;
    },
    fail(error: unknown) {
      done.textContent = '';
      alert.textContent = describeError(error);
    },
  };
}

export function passwordInput(id: string, autocomplete: string): HTMLInputElement {
  return h('input', { id, name: id, type: 'password', autocomplete, required: true });
}

export type Feedback = ReturnType<typeof feedback>;
