import { allPages, client, type Me } from '../api';
import { button, confirmAction, field, formatDate, h } from '../dom';
import { tableOf } from './figures';
import { openFormDialog } from './form-dialog';
import { feedback } from './form-parts';
import { refresher, status } from './refresher';
import { showInvitationLink } from './shown-once';

type Organization = Awaited<ReturnType<typeof client.auth.organizations.list.query>>['items'][number];

const MAX_ORGANIZATIONS = 1000;
const loadOrganizations = (): Promise<Organization[]> =>
  allPages((input) => client.auth.organizations.list.query(input), MAX_ORGANIZATIONS);

/**
 * The platform's organizations, for platform admins: create one with the invitation of its first
 * admin, rename, suspend (its users are signed out and refused until resumed), resume, delete.
 */
export function renderOrganizations(main: HTMLElement, me: Me): () => void {
  const heading = h('h2', { id: 'organizations-title', tabindex: '-1' }, 'All organizations');
  const report = feedback();
  const list = h('div');
  main.replaceChildren(
    h('h1', {}, 'Organizations'),
    createForm(() => organizations.reload()),
    h('section', { 'aria-labelledby': 'organizations-title' }, heading, report.element, list),
  );
  const own = (o: Organization) => o.id === me.organizationId;

  const organizations = refresher(list, loadOrganizations, (rows) =>
    tableOf<Organization>(
      'organizations-table',
      'Organizations of the platform, oldest first',
      [
        {
          header: 'Name',
          cell: (o) => h('span', {}, o.name, own(o) && h('span', { class: 'you' }, ' (yours)')),
        },
        { header: 'Members', cell: (o) => o.memberCount },
        { header: 'Created', cell: (o) => formatDate(o.createdAt) },
        { header: 'Status', cell: (o) => standing(o) },
        { header: 'Actions', cell: (o) => actions(o) },
      ],
      rows,
    ),
  );

  function actions(o: Organization): HTMLElement {
    return h(
      'div',
      { class: 'row-actions' },
      button('Rename', () => rename(o), { 'aria-label': `Rename ${o.name}` }),
      // One's own organization is never suspended nor deleted from here (the server refuses it):
      // its platform admins would lock themselves out.
      !own(o) &&
        (o.suspendedAt
          ? button('Resume', () => void resume(o), { 'aria-label': `Resume ${o.name}` })
          : button('Suspend', () => suspend(o), { 'aria-label': `Suspend ${o.name}` })),
      !own(o) && button('Delete', () => remove(o), { class: 'danger', 'aria-label': `Delete ${o.name}` }),
    );
  }

  /** After an action: the table read again, the status said, focus back on the table's heading. */
  async function done(text: string) {
    report.ok(text);
    await organizations.reload();
    heading.focus();
  }

  function rename(o: Organization) {
    const name = h('input', {
      id: 'rename-name',
      name: 'name',
      value: o.name,
      maxlength: '200',
    });
    let renamed = '';
    const dialog = openFormDialog({
      title: `Rename ${o.name}`,
      fields: [field('New name', name)],
      submitLabel: 'Rename',
      submit: async () => {
        renamed = (await client.auth.organizations.rename.mutate({ id: o.id, name: name.value })).name;
      },
    });
    dialog.addEventListener('close', () => {
      if (renamed) void done(`${o.name} is now called ${renamed}.`);
    });
  }

  function suspend(o: Organization) {
    // Not `required`: the server's message says what is missing, as for every other field.
    const reason = h('textarea', { id: 'suspend-reason', name: 'reason', maxlength: '500', rows: '3' });
    let suspended = false;
    const dialog = openFormDialog({
      title: `Suspend ${o.name}`,
      fields: [
        h(
          'p',
          {},
          'Its members are signed out at once and cannot sign in, and its API keys stop working, until the organization is resumed. Nothing is deleted.',
        ),
        field('Reason', reason, { hint: 'Kept with the organization and in the platform audit log.' }),
      ],
      submitLabel: 'Suspend',
      danger: true,
      submit: async () => {
        if (!reason.value.trim()) throw new Error('Give a reason: its members’ admins will ask for one.');
        await client.auth.organizations.suspend.mutate({ id: o.id, reason: reason.value });
        suspended = true;
      },
    });
    dialog.addEventListener('close', () => {
      if (suspended) void done(`${o.name} is suspended: its members are signed out.`);
    });
  }

  async function resume(o: Organization) {
    const question = `Resume ${o.name}? Its members can sign in again and its API keys work again.`;
    if (!(await confirmAction(question, 'Resume'))) return;
    try {
      await client.auth.organizations.resume.mutate({ id: o.id });
      await done(`${o.name} is active again.`);
    } catch (error) {
      report.fail(error);
    }
  }

  /** Deleting takes the name typed out: a click alone never deletes an organization. */
  function remove(o: Organization) {
    const typed = h('input', { id: 'delete-name', name: 'name', autocomplete: 'off', spellcheck: 'false' });
    let deleted = false;
    const dialog = openFormDialog({
      title: `Delete ${o.name}`,
      fields: [
        h(
          'p',
          {},
          'Its members, sessions, API keys, invitations, audit events, environments and deployments are deleted with it. This cannot be undone.',
        ),
        field(`Type the organization's name to confirm: ${o.name}`, typed),
      ],
      submitLabel: 'Delete organization',
      danger: true,
      submit: async () => {
        if (typed.value.trim() !== o.name) throw new Error(`Type the name exactly as shown: ${o.name}`);
        await client.auth.organizations.delete.mutate({ id: o.id });
        deleted = true;
      },
    });
    const submit = dialog.querySelector<HTMLButtonElement>('button[type="submit"]')!;
    const check = () => {
      submit.disabled = typed.value.trim() !== o.name;
    };
    typed.addEventListener('input', check);
    check();
    dialog.addEventListener('close', () => {
      if (deleted) void done(`${o.name} is deleted.`);
    });
  }

  return organizations.stop;
}

/** Active, or suspended with when and why. */
function standing(o: Organization): HTMLElement {
  if (!o.suspendedAt) return status('active');
  return h(
    'div',
    { class: 'standing' },
    status('suspended'),
    h('span', { class: 'reason' }, o.suspendedReason ?? ''),
    h('small', {}, `since ${formatDate(o.suspendedAt)}`),
  );
}

function createForm(afterCreate: () => Promise<void>): HTMLElement {
  const report = feedback();
  const name = h('input', {
    id: 'organization-name',
    name: 'name',
    required: true,
    maxlength: '200',
    autocomplete: 'off',
  });
  const email = h('input', {
    id: 'organization-admin-email',
    name: 'email',
    type: 'email',
    required: true,
    autocomplete: 'off',
  });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Create organization');
  // The server checks the rules (novalidate): its messages are the ones shown, in the alert.
  const form = h(
    'form',
    { class: 'fields', 'aria-labelledby': 'create-organization-title', novalidate: true },
    field('Name', name),
    field("First admin's email", email, { hint: 'They get an invitation link to set their password.' }),
    h('div', { class: 'field-actions' }, submit),
  );
  let busy = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    client.auth.organizations.create
      .mutate({ name: name.value, admin: { email: email.value } })
      .then(async (created) => {
        form.reset();
        report.ok(`Created ${created.organization.name}; its admin is invited.`);
        showInvitationLink(
          `Invitation for the admin of ${created.organization.name}`,
          created.invitation,
          created.token,
        );
        await afterCreate();
      })
      .catch((error) => report.fail(error))
      .finally(() => {
        busy = false;
      });
  });
  return h(
    'section',
    {},
    h('h2', { id: 'create-organization-title' }, 'Create an organization'),
    form,
    report.element,
  );
}
