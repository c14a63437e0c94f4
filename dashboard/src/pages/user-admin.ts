import { allPages, client } from '../api';
import { button, confirmAction, field, formatDate, h, table } from '../dom';
import { type Feedback, feedback, passwordInput } from './form-parts';
import { refresher, status } from './refresher';
import { ROLE_LABELS, type Role, roleSelect } from './roles';

type User = Awaited<ReturnType<typeof client.auth.users.list.query>>['items'][number];

const MAX_USERS = 1000;
const loadUsers = (): Promise<User[]> => allPages((input) => client.auth.users.list.query(input), MAX_USERS);

/** The organization's users, for admins: create, change role, disable, remove. */
export function renderUserAdmin(section: HTMLElement, myId: string): () => void {
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
            h(
              'div',
              { class: 'row-actions' },
              !u.disabled &&
                button('Disable', () => void disable(u), {
                  class: 'danger',
                  'aria-label': `Disable user ${u.email}`,
                }),
              // Nobody removes themselves (the server refuses it too).
              u.id !== myId &&
                button('Remove', () => void remove(u), {
                  class: 'danger',
                  'aria-label': `Remove member ${u.email}`,
                }),
            ),
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

  async function remove(user: User) {
    const question = `Remove ${user.email} from your organization? Their account, sessions and API keys are deleted; this cannot be undone.`;
    if (!(await confirmAction(question, 'Remove'))) return;
    try {
      await client.auth.users.remove.mutate({ id: user.id });
      report.ok(`${user.email} is removed from your organization.`);
      await users.reload();
      heading.focus();
    } catch (error) {
      // E.g. oneself, or the last enabled admin: the server's reason.
      report.fail(error);
    }
  }

  return users.stop;
}

/**
 * A role select and its Save button. Changing a role takes the button, not the select's change
 * event: arrowing through a closed select fires change per option, which would briefly grant each.
 */
function roleControl(user: User, report: Feedback): HTMLElement {
  let saved: Role = user.role;
  const select = roleSelect(user.role, { 'aria-label': `Role of ${user.email}` });
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

function createUserForm(report: Feedback, afterCreate: () => Promise<void>): HTMLElement {
  const email = h('input', {
    id: 'user-email',
    name: 'email',
    type: 'email',
    required: true,
    autocomplete: 'off',
  });
  const name = h('input', { id: 'user-name', name: 'name', maxlength: '200', autocomplete: 'off' });
  const password = passwordInput('user-password', 'new-password');
  const role = roleSelect('operator', { id: 'user-role', name: 'role' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create user');
  // The server checks the rules (novalidate): its messages are the ones shown, in the alert.
  const form = h(
    'form',
    { class: 'fields', 'aria-labelledby': 'create-user-title', novalidate: true },
    field('Email', email),
    field('Name (optional)', name),
    field('Initial password', password, { hint: 'At least 12 characters.' }),
    field('Role', role),
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
