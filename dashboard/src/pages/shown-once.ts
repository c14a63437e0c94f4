import { button, type Child, formatDate, h, openDialog } from '../dom';

/** The address that accepts an invitation: the dashboard's own page, the token in its fragment. */
export function invitationLink(token: string): string {
  // In the fragment, the token never reaches a server's access log, nor a Referer header.
  return `${window.location.origin}/#/accept?token=${encodeURIComponent(token)}`;
}

/**
 * A copy button for `text` and the status line that confirms it: "Copied" from the clipboard, or,
 * where there is none (an insecure origin, or permission refused), `shown` selected for Ctrl+C.
 */
export function copyControls(
  label: string,
  text: string,
  shown: HTMLElement,
): [HTMLButtonElement, HTMLElement] {
  const copied = h('p', { class: 'notice', role: 'status' });
  const selectShown = () => {
    const range = document.createRange();
    range.selectNodeContents(shown);
    window.getSelection()?.removeAllRanges();
    window.getSelection()?.addRange(range);
    copied.textContent = 'It is selected: press Ctrl+C (⌘C) to copy it.';
  };
  const copy = button(label, () => {
    if (!navigator.clipboard) {
      selectShown();
      return;
    }
    navigator.clipboard.writeText(text).then(() => {
      copied.textContent = 'Copied to the clipboard.';
    }, selectShown);
  });
  return [copy, copied];
}

/**
 * A new API key, in a dialog with a copy button: the server keeps only its hash, so this is the
 * one time anyone sees it, and the dialog says so.
 */
export function showApiKey(title: string, name: string, key: string): HTMLDialogElement {
  const code = h('code', { class: 'secret', 'data-testid': 'new-api-key' }, key);
  const [copy, copied] = copyControls('Copy key', key, code);
  return openDialog(
    title,
    h('p', {}, 'Name: ', h('strong', {}, name)),
    code,
    h('div', { class: 'toolbar copy-row' }, copy, copied),
    h(
      'p',
      { class: 'warning' },
      h('strong', {}, 'Copy it now: it is shown only once.'),
      ' The platform keeps only a fingerprint of it. If it is lost, rotate or revoke the key.',
    ),
  );
}

/**
 * The link of a new invitation, in a dialog with a copy button. The server keeps only the
 * token's hash: this is the one time anyone sees it, and the dialog says so.
 */
export function showInvitationLink(
  title: string,
  invitation: { email: string; expiresAt: string },
  token: string,
  ...more: Child[]
): HTMLDialogElement {
  const link = invitationLink(token);
  const code = h('code', { class: 'secret', 'data-testid': 'invitation-link' }, link);
  const [copy, copied] = copyControls('Copy link', link, code);
  return openDialog(
    title,
    ...more,
    h(
      'p',
      {},
      'Send this link to ',
      h('strong', {}, invitation.email),
      `. Whoever opens it sets a password and joins; it works once, until ${formatDate(invitation.expiresAt)}.`,
    ),
    code,
    h('div', { class: 'toolbar copy-row' }, copy, copied),
    h(
      'p',
      { class: 'warning' },
      h('strong', {}, 'Copy it now: it will not be shown again.'),
      ' The platform keeps only a fingerprint of it. If it is lost, revoke the invitation and send a new one.',
    ),
  );
}
