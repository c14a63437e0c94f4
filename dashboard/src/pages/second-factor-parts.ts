import { field, h, openDialog } from '../dom';
import { qrCode } from '../qr-code';
import { copyControls } from './shown-once';

/** A TOTP secret waiting for its first code, as the server answers it. */
export interface TotpEnrolment {
  secret: string;
  uri: string;
  issuer: string;
  account: string;
}

/** Six digits, as an authenticator app shows them: a numeric keypad on phones, one-time-code autofill. */
export function codeInput(id: string): HTMLInputElement {
  return h('input', {
    id,
    name: id,
    inputmode: 'numeric',
    autocomplete: 'one-time-code',
    pattern: '[0-9]{6}',
    maxlength: '6',
    required: true,
  });
}

/**
 * The QR code of a new secret, the secret itself for apps that cannot scan, and the form of its
 * first code; `confirm` gets the code and throws to say it was refused.
 */
export function enrolmentForm(
  enrolment: TotpEnrolment,
  confirm: (code: string) => Promise<void>,
  report: { fail(error: unknown): void },
): HTMLElement {
  const secret = h('code', { class: 'secret totp-secret', 'data-testid': 'totp-secret' }, enrolment.secret);
  const [copy, copied] = copyControls('Copy key', enrolment.secret, secret);
  const code = codeInput('totp-code');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Activate');
  const form = h(
    'form',
    { class: 'fields', 'aria-label': 'First code of the authenticator app' },
    field('Code from the app', code, { hint: 'The 6 digits the app shows for this account.' }),
    h('div', { class: 'field-actions' }, submit),
  );
  let busy = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    confirm(code.value.trim())
      .catch((error) => {
        report.fail(error);
        code.select();
      })
      .finally(() => {
        busy = false;
      });
  });
  queueMicrotask(() => code.focus());
  return h(
    'div',
    { class: 'totp-enrolment' },
    h(
      'p',
      {},
      'Scan this code with an authenticator app (1Password, Google Authenticator, Aegis…), ',
      'then type the code it shows.',
    ),
    qrCode(enrolment.uri, `QR code for ${enrolment.issuer}: ${enrolment.account}`),
    h('p', {}, 'Or type this key into the app:'),
    secret,
    h('div', { class: 'toolbar copy-row' }, copy, copied),
    form,
  );
}

/** Ten recovery codes, in a dialog: the server keeps only their hashes, so this is their one showing. */
export function showRecoveryCodes(codes: readonly string[]): HTMLDialogElement {
  const list = h(
    'ol',
    { class: 'recovery-codes', 'data-testid': 'recovery-codes' },
    ...codes.map((code) => h('li', {}, h('code', {}, code))),
  );
  const [copy, copied] = copyControls('Copy codes', codes.join('\n'), list);
  return openDialog(
    'Your recovery codes',
    h(
      'p',
      {},
      'Each code signs you in once in place of a code from the app, if you lose the phone it is on.',
    ),
    list,
    h('div', { class: 'toolbar copy-row' }, copy, copied),
    h(
      'p',
      { class: 'warning' },
      h('strong', {}, 'Keep them now: they are shown only once.'),
      ' The platform keeps only fingerprints of them. New codes can be made at any time; they replace these.',
    ),
  );
}
