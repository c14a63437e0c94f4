import { type SecondFactorChallenge, type SessionTokens, sessionOf } from '@beauty-crafter/client';
import { anonymousClient, client, describeError } from '../api';
import { button, field, h } from '../dom';
import { passkeysSupported, usePasskey } from '../passkeys';
import { codeInput, enrolmentForm, showRecoveryCodes } from './second-factor-parts';

/**
 * Sign-in's second step, after a right password: the code of the authenticator app (or a
 * recovery code), or, when the organization requires a second factor the user lacks, setting one
 * up there and then. Its answer is the session's first tokens, handed to the dashboard's session
 * (the refresh token arrives as the HttpOnly cookie, as after a one-step sign-in).
 */
export function renderSecondStep(challenge: SecondFactorChallenge, onSignedIn: () => void): HTMLElement {
  const message = h('p', { class: 'error', role: 'alert' });
  const report = { fail: (error: unknown) => (message.textContent = describeError(error)) };
  const start = async (tokens: SessionTokens) => {
    await sessionOf(client)!.completeSignIn(tokens);
    onSignedIn();
  };
  return challenge.purpose === 'enrol'
    ? enrolAtSignIn(challenge.challenge, message, report, start)
    : verify(challenge.challenge, challenge.methods.includes('passkey'), message, start);
}

function verify(
  challenge: string,
  withPasskey: boolean,
  message: HTMLElement,
  start: (tokens: SessionTokens) => Promise<void>,
): HTMLElement {
  let recovery = false;
  const code = codeInput('second-factor-code');
  const recoveryCode = h('input', {
    id: 'recovery-code',
    name: 'recovery-code',
    autocomplete: 'off',
  });
  const codeField = field('Code from your authenticator app', code);
  const recoveryField = field('Recovery code', recoveryCode, {
    hint: 'One of the ten codes you kept; it works once.',
  });
  recoveryField.hidden = true;
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Verify');
  const toggle = button('Use a recovery code instead', () => {
    recovery = !recovery;
    codeField.hidden = recovery;
    recoveryField.hidden = !recovery;
    code.required = !recovery;
    recoveryCode.required = recovery;
    toggle.textContent = recovery ? 'Use the authenticator app instead' : 'Use a recovery code instead';
    (recovery ? recoveryCode : code).focus();
  });
  const form = h(
    'form',
    { class: 'login', 'aria-labelledby': 'second-step-title' },
    h('h1', { id: 'second-step-title' }, 'Second factor'),
    h('p', {}, 'Enter the 6-digit code your authenticator app shows for this account.'),
    codeField,
    recoveryField,
    submit,
    toggle,
    withPasskey && passkeysSupported()
      ? button('Use a passkey', () => void signInWithPasskey(), { class: 'primary' })
      : null,
    message,
  );

  async function signInWithPasskey(): Promise<void> {
    message.textContent = '';
    try {
      const options = await anonymousClient.auth.secondFactor.passkeyOptions.mutate({ challenge });
      const passkey = await usePasskey(options);
      await start(await anonymousClient.auth.secondFactor.verifyPasskey.mutate({ challenge, passkey }));
    } catch (error) {
      message.textContent = describeError(error);
    }
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    const proof = recovery ? { recoveryCode: recoveryCode.value.trim() } : { code: code.value.trim() };
    anonymousClient.auth.secondFactor.verify
      .mutate({ challenge, ...proof })
      .then(start)
      .catch((error) => {
        message.textContent = describeError(error);
        submit.disabled = false;
        (recovery ? recoveryCode : code).select();
      });
  });
  queueMicrotask(() => code.focus());
  return form;
}

function enrolAtSignIn(
  challenge: string,
  message: HTMLElement,
  report: { fail(error: unknown): void },
  start: (tokens: SessionTokens) => Promise<void>,
): HTMLElement {
  const body = h('div', {}, h('p', {}, 'Preparing…'));
  const page = h(
    'div',
    { class: 'login second-step-enrol', 'aria-labelledby': 'second-step-title' },
    h('h1', { id: 'second-step-title' }, 'Set up a second factor'),
    h('p', {}, 'Your organization requires a second factor to sign in. Set up an authenticator app now.'),
    body,
    message,
  );
  anonymousClient.auth.secondFactor.enrolment.begin
    .mutate({ challenge })
    .then((enrolment) =>
      body.replaceChildren(
        enrolmentForm(
          enrolment,
          async (code) => {
            const { recoveryCodes, ...tokens } =
              await anonymousClient.auth.secondFactor.enrolment.finish.mutate({
                challenge,
                code,
              });
            await start(tokens);
            showRecoveryCodes(recoveryCodes);
          },
          report,
        ),
      ),
    )
    .catch((error) => report.fail(error));
  return page;
}
