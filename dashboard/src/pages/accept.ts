import { anonymousClient, describeError, login } from '../api';
import { field, h } from '../dom';
import { passwordInput } from './form-parts';

/**
 * Accepting an invitation, without signing in: the token comes from the link, the person sets a
 * password (and a name), and is then signed in as the new member.
 */
export function renderAccept(token: string, onSignedIn: () => void): HTMLElement {
  const name = h('input', { id: 'accept-name', name: 'name', maxlength: '200', autocomplete: 'name' });
  const password = passwordInput('accept-password', 'new-password');
  const repeat = passwordInput('accept-repeat', 'new-password');
  const message = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Join and sign in');
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'accept-title', novalidate: true },
    h('h1', { id: 'accept-title' }, 'Accept your invitation'),
    token ? h('p', {}, 'Choose a password to join your organization on the Beauty Crafter Platform.') : null,
    field('Your name (optional)', name),
    field('Password', password, { hint: 'At least 12 characters.' }),
    field('Repeat the password', repeat),
    submit,
    message,
    h('p', { class: 'aside' }, h('a', { href: '#/' }, 'Sign in instead')),
  );
  if (!token) {
    submit.disabled = true;
    message.textContent =
      'This link holds no invitation. Open the whole link you were sent, or ask your admin for a new one.';
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    if (password.value !== repeat.value) {
      message.textContent = 'The two passwords differ.';
      repeat.focus();
      return;
    }
    submit.disabled = true;
    anonymousClient.auth.invitations.accept
      .mutate({ token, password: password.value, ...(name.value.trim() ? { name: name.value } : {}) })
      .then(async (accepted) => {
        await login(accepted.user.email, password.value);
        onSignedIn();
      })
      .catch((error) => {
        message.textContent = describeError(error);
        submit.disabled = false;
        password.focus();
      });
  });
  queueMicrotask(() => (token ? name : form).focus());
  return h('div', { class: 'login-page' }, form);
}
