import { SecondFactorRequiredError, sessionOf } from '@beauty-crafter/client';
import { anonymousClient, client, describeError, login } from '../api';
import { button, h } from '../dom';
import { passkeysSupported, usePasskey } from '../passkeys';
import { renderSecondStep } from './login-second-step';

export function renderLogin(onSignedIn: () => void): HTMLElement {
  const email = h('input', {
    id: 'email',
    name: 'email',
    type: 'email',
    autocomplete: 'username',
    required: true,
  });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const message = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    submit,
    passkeysSupported() ? button('Use a passkey instead of a password', () => void withPasskey()) : null,
    message,
  );
  const page = h('div', { class: 'login-page' }, form);

  /** Passwordless: a passkey that verifies its user (PIN or biometric) names them and proves it. */
  async function withPasskey(): Promise<void> {
    message.textContent = '';
    try {
      const options = await anonymousClient.auth.secondFactor.passwordless.options.mutate();
      const passkey = await usePasskey(options);
      const issued = await anonymousClient.auth.secondFactor.passwordless.signIn.mutate({ passkey });
      await sessionOf(client)!.completeSignIn(issued);
      onSignedIn();
    } catch (error) {
      message.textContent = describeError(error);
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    login(email.value, password.value)
      .then(onSignedIn)
      .catch((error) => {
        // The password was right and a second step follows: the form gives way to it.
        if (error instanceof SecondFactorRequiredError) {
          page.replaceChildren(renderSecondStep(error.challenge, onSignedIn));
          return;
        }
        message.textContent = describeError(error);
        submit.disabled = false;
        password.focus();
      });
  });
  queueMicrotask(() => email.focus());
  return page;
}
