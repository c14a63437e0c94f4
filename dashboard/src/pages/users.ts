import { client, describeError, logout } from '../api';
import { button, confirmAction, formatDate, h, table } from '../dom';
import { refresher, status } from './refresher';

type Role = Parameters<typeof client.auth.users.create.mutate>[0]['role'];
type User = Awaited<ReturnType<typeof client.auth.users.list.query>>['users'][number];
type Session = Awaited<ReturnType<typeof client.auth.sessions.list.query>>[number];

/** Strongest first, as an admin reads the choice; `satisfies` fails the build when a role is added. */
const ROLE_LABELS = { admin: 'Admin', operator: 'Operator', viewer: 'Viewer' } satisfies Record<Role, string>;
const ROLES = Object.keys(ROLE_LABELS) as Role[];
const MAX_USERS = 1000;

/**
 * Everyone's own sessions and password; for admins, the organization's users too. The users
 * section is not drawn at all for other roles (the server would refuse its calls anyway).
 */
export function renderUsers(main: HTMLElement): () => void {
  const sessions = h('section', { class: 'users-section', 'aria-labelledby': 'sessions-title' });
  main.replaceChildren(h('h1', {}, 'Users and sessions'), sessions);
  const stops = [renderSessions(sessions)];
  let left = false;
  client.auth.me.query().then(
    (me) => {
      if (left || me.role !== 'admin') return;
      const users = h('section', { class: 'users-section', 'aria-labelledby': 'users-title' });
      main.appendChild(users);
      stops.push(renderUserAdmin(users, me.userId));
    },
    // The sessions section shows why calls fail; without a role, nothing more is drawn.
    () => {},
  );
  return () => {
    left = true;
    for (const stop of stops) stop();
  };
}

/** An alert for failures and a status line for successes: assistive technology reads both. */
function feedback() {
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

/** A label above its control; `hint` becomes the control's description. */
function field(id: string, label: string, control: HTMLElement, hint?: string): HTMLElement {
  if (hint) control.setAttribute('aria-describedby', `${id}-hint`);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    control,
    hint && h('small', { id: `${id}-hint` }, hint),
  );
}

function passwordInput(id: string, autocomplete: string): HTMLInputElement {
  return h('input', { id, name: id, type: 'password', autocomplete, required: true });
}

/** The first characters of a session id: enough to tell one's sessions apart across devices. */
const shortId = (id: string) => id.slice(0, 8);

function renderSessions(section: HTMLElement): () => void {
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
    field('current-password', 'Current password', current),
    field('new-password', 'New password', next, 'At least 12 characters.'),
    field('repeat-password', 'Repeat the new password', repeat),
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

async function loadUsers(): Promise<User[]> {
  const users: User[] = [];
  let cursor: string | null = null;
  do {
    const page: { users: User[]; nextCursor: string | null } = await client.auth.users.list.query(
      cursor ? { limit: 100, cursor } : { limit: 100 },
    );
    users.push(...page.users);
    cursor = page.nextCursor;
  } while (cursor && users.length < MAX_USERS);
  return users;
}

function renderUserAdmin(section: HTMLElement, myId: string): () => void {
  const heading = h('h2', { id: 'users-title', tabindex: '-1' }, 'Users');
  const report = feedback();
  const list = h('div');
  section.append(
    heading,
    createUserForm(report, () => users.reload()),
    report.element,
    list,
  );

  const users = refresher(list, loadUsers, (rows) =>
    table<User>(
      'Users of your organization',
      [
        {
          header: 'Email',
          cell: (u) => h('span', {}, u.email, u.id === myId && h('span', { class: 'you' }, ' (you)')),
        },
        { header: 'Name', cell: (u) => u.name || '–' },
        { header: 'Role', cell: (u) => roleControl(u, report) },
        { header: 'Status', cell: (u) => status(u.disabled ? 'disabled' : 'active') },
        { header: 'Created', cell: (u) => formatDate(u.createdAt) },
        {
          header: 'Actions',
          cell: (u) =>
            u.disabled
              ? ''
              : button('Disable', () => void disable(u), {
                  class: 'danger',
                  'aria-label': `Disable user ${u.email}`,
                }),
        },
      ],
      rows,
    ),
  );

  async function disable(user: User) {
    const question = `Disable ${user.email}? Their sessions end at once and they can no longer sign in.`;
    if (!(await confirmAction(question, 'Disable'))) return;
    try {
      await client.auth.users.disable.mutate({ id: user.id });
      report.ok(`${user.email} is disabled and signed out everywhere.`);
      await users.reload();
      heading.focus();
    } catch (error) {
      // E.g. one's own account, or the last enabled admin: the server's reason.
      report.fail(error);
    }
  }

  return users.stop;
}

/**
 * A role select and its Save button. Changing a role takes the button, not the select's change
 * event: arrowing through a closed select fires change per option, which would briefly grant each.
 */
function roleControl(user: User, report: ReturnType<typeof feedback>): HTMLElement {
  let saved: Role = user.role;
  const select = h(
    'select',
    { 'aria-label': `Role of ${user.email}` },
    ...ROLES.map((role) => h('option', { value: role, selected: role === user.role }, ROLE_LABELS[role])),
  );
  const save = button(
    'Save',
    () => {
      const role = select.value as Role;
      if (role === saved) return report.ok(`${user.email} is already ${ROLE_LABELS[role]}.`);
      client.auth.users.update.mutate({ id: user.id, role }).then(
        () => {
          saved = role;
          report.ok(`${user.email} is now ${ROLE_LABELS[role]}.`);
        },
        (error) => {
          select.value = saved;
          report.fail(error);
        },
      );
    },
    { 'aria-label': `Save role of ${user.email}` },
  );
  return h('div', { class: 'row-actions' }, select, save);
}

function createUserForm(report: ReturnType<typeof feedback>, afterCreate: () => Promise<void>): HTMLElement {
  const email = h('input', {
    id: 'user-email',
    name: 'email',
    type: 'email',
    required: true,
    autocomplete: 'off',
  });
  const name = h('input', { id: 'user-name', name: 'name', maxlength: '200', autocomplete: 'off' });
  const password = passwordInput('user-password', 'new-password');
  const role = h(
    'select',
    { id: 'user-role', name: 'role' },
    ...ROLES.map((r) => h('option', { value: r, selected: r === 'operator' }, ROLE_LABELS[r])),
  );
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create user');
  // The server checks the rules (novalidate): its messages are the ones shown, in the alert.
  const form = h(
    'form',
    { class: 'fields', 'aria-labelledby': 'create-user-title', novalidate: true },
    field('user-email', 'Email', email),
    field('user-name', 'Name (optional)', name),
    field('user-password', 'Initial password', password, 'At least 12 characters.'),
    field('user-role', 'Role', role),
    h('div', { class: 'field-actions' }, submit),
  );
  let busy = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    client.auth.users.create
      .mutate({ email: email.value, name: name.value, password: password.value, role: role.value as Role })
      .then(async (created) => {
        form.reset();
        report.ok(`Created ${created.email} (${ROLE_LABELS[created.role]}).`);
        await afterCreate();
        email.focus();
      })
      .catch((error) => report.fail(error))
      .finally(() => {
        busy = false;
      });
  });
  return h('div', {}, h('h3', { id: 'create-user-title' }, 'Create a user'), form);
}
