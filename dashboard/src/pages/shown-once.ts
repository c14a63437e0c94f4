import { button, type Child, formatDate, h, openDialog } from '../dom';

/** The address that accepts an invitation: the dashboard's own page, the token in its fragment. */
export function invitationLink(token: string): string {
  // In the fragment, the token never reaches a server's access log, nor a Referer header.
  return `${window.location.origin}/#/accept?token=${encodeURIComponent(token)}`;
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
  const copied = h('p', { class: 'notice', role: 'status' });
  const copy = button('Copy link', () => {
    navigator.clipboard.writeText(link).then(
      () => {
        copied.textContent = 'Copied to the clipboard.';
      },
      () => {
        // No clipboard (an insecure origin, or refused): select it for Ctrl+C instead.
        const range = document.createRange();
        range.selectNodeContents(code);
        window.getSelection()?.removeAllRanges();
        window.getSelection()?.addRange(range);
        copied.textContent = 'The link is selected: press Ctrl+C (⌘C) to copy it.';
      },
    );
  });
  const code = h('code', { class: 'secret', 'data-testid': 'invitation-link' }, link);
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
