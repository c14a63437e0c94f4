import { client, logout } from '../api';
import { button, confirmAction, field, formatDate, h, table } from '../dom';
import { feedback, passwordInput } from './form-parts';
import { refresher } from './refresher';

type Session = Awaited<ReturnType<typeof client.auth.sessions.list.query>>[number];

/** The first characters of a session id: enough to tell one's sessions apart across devices. */
const shortId = (id: string) => id.slice(0, 8);

/** Your own sessions (revoke, sign out everywhere) and the change-password form. */
export function renderSessions(section: HTMLElement): () => void {
  const heading = h('h2', { id: 'sessions-title', tabindex: '-1' }, 'Your sessions');
  const report = feedback();
  const list = h('div');
  const toolbar = h(
    'div',
    { class: 'toolbar' },
    button('Refresh', () => void sessions.reload(), { 'aria-label': 'Refresh your sessions' }),
    button('Sign out everywhere', () => void signOutEverywhere(), { class: 'danger' }),
  );
  section.append(
    heading,
    toolbar,
    report.element,
    list,
    changePasswordForm(() => sessions.reload()),
  );

  const sessions = refresher(
    list,
    () => client.auth.sessions.list.query(),
    (rows) =>
      table<Session>(
        'Your sessions, most recently active first',
        [
          {
            header: 'Session',
            cell: (s) =>
              h(
                'span',
                { class: 'session-id' },
                h('code', {}, shortId(s.id)),
                s.current && h('strong', { class: 'current' }, 'this session'),
              ),
          },
          { header: 'Created', cell: (s) => formatDate(s.createdAt) },
          { header: 'Last active', cell: (s) => formatDate(s.lastUsedAt) },
          { header: 'Expires', cell: (s) => formatDate(s.expiresAt) },
          { header: 'Browser', cell: (s) => h('span', { class: 'agent' }, s.userAgent ?? '–') },
          { header: 'Address', cell: (s) => s.ip ?? '–' },
          {
            header: 'Actions',
            cell: (s) =>
              s.current
                ? ''
                : button('Revoke', () => void revoke(s), {
                    class: 'danger',
                    'aria-label': `Revoke session ${shortId(s.id)}`,
                  }),
          },
        ],
        rows,
      ),
  );

  async function revoke(session: Session) {
    const question = `Sign out session ${shortId(session.id)}? Whoever uses it must sign in again.`;
    if (!(await confirmAction(question, 'Revoke'))) return;
    try {
      await client.auth.sessions.revoke.mutate({ id: session.id });
      report.ok(`Session ${shortId(session.id)} is signed out.`);
      await sessions.reload();
      // The focused button went with its row.
      heading.focus();
    } catch (error) {
      report.fail(error);
    }
  }

  async function signOutEverywhere() {
    const question = 'Sign out all your sessions, this one included? Every device must sign in again.';
    if (!(await confirmAction(question, 'Sign out everywhere'))) return;
    try {
      await client.auth.logoutAll.mutate();
    } catch (error) {
      report.fail(error);
      return;
    }
    // The server ended this session too; ending the client's brings back the login page
    // (main.ts, whenSignedOut) whether or not its own logout call is still accepted.
    await logout().catch(() => {});
  }

  return sessions.stop;
}

function changePasswordForm(afterChange: () => Promise<void>): HTMLElement {
  const report = feedback();
  const current = passwordInput('current-password', 'current-password');
  const next = passwordInput('new-password', 'new-password');
  const repeat = passwordInput('repeat-password', 'new-password');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  // The server checks the rules (novalidate): its messages are the ones shown.
  const form = h(
    'form',
    { class: 'fields', 'aria-labelledby': 'password-title', novalidate: true },
    field('Current password', current),
    field('New password', next, { hint: 'At least 12 characters.' }),
    field('Repeat the new password', repeat),
    h('div', { class: 'field-actions' }, submit),
  );
  // A busy flag rather than a disabled button: disabling the focused button would drop focus.
  let busy = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    if (next.value !== repeat.value) {
      report.fail('The new password and its repetition differ.');
      repeat.focus();
      return;
    }
    busy = true;
    client.auth.changePassword
      .mutate({ currentPassword: current.value, newPassword: next.value })
      .then(async () => {
        form.reset();
        report.ok('Password changed. Your other sessions were signed out; this one stays signed in.');
        await afterChange();
      })
      .catch((error) => report.fail(error))
      .finally(() => {
        busy = false;
      });
  });
  return h('div', {}, h('h3', { id: 'password-title' }, 'Change password'), form, report.element);
}
