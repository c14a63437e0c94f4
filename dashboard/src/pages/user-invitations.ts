import { client } from '../api';
import { button, confirmAction, field, formatDate, h, table } from '../dom';
import { type Feedback, feedback } from './form-parts';
import { refresher, status } from './refresher';
import { ROLE_LABELS, type Role, roleSelect } from './roles';
import { showInvitationLink } from './shown-once';

type Invitation = Awaited<ReturnType<typeof client.auth.invitations.list.query>>['items'][number];

/** The organization's invitations, for admins: invite someone by email, see them, revoke pending ones. */
export function renderInvitations(section: HTMLElement): () => void {
  const heading = h('h2', { id: 'invitations-title', tabindex: '-1' }, 'Invitations');
  const report = feedback();
  const list = h('div');
  section.append(
    heading,
    inviteForm(report, () => invitations.reload()),
    report.element,
    list,
  );

  const invitations = refresher(
    list,
    () => client.auth.invitations.list.query({ limit: 100 }),
    (page) =>
      table<Invitation>(
        'Invitations, newest first',
        [
          { header: 'Email', cell: (i) => i.email },
          { header: 'Role', cell: (i) => ROLE_LABELS[i.role] },
          { header: 'Status', cell: (i) => status(i.status) },
          { header: 'Expires', cell: (i) => formatDate(i.expiresAt) },
          { header: 'Sent', cell: (i) => formatDate(i.createdAt) },
          {
            header: 'Actions',
            cell: (i) =>
              i.status === 'pending'
                ? button('Revoke', () => void revoke(i), {
                    class: 'danger',
                    'aria-label': `Revoke the invitation of ${i.email}`,
                  })
                : '',
          },
        ],
        page.items,
      ),
  );

  async function revoke(invitation: Invitation) {
    const question = `Revoke the invitation of ${invitation.email}? Its link stops working at once.`;
    if (!(await confirmAction(question, 'Revoke'))) return;
    try {
      await client.auth.invitations.revoke.mutate({ id: invitation.id });
      report.ok(`The invitation of ${invitation.email} is revoked.`);
      await invitations.reload();
      heading.focus();
    } catch (error) {
      report.fail(error);
    }
  }

  return invitations.stop;
}

function inviteForm(report: Feedback, afterInvite: () => Promise<void>): HTMLElement {
  const email = h('input', {
    id: 'invite-email',
    name: 'email',
    type: 'email',
    required: true,
    autocomplete: 'off',
  });
  const role = roleSelect('viewer', { id: 'invite-role', name: 'role' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Send invitation');
  const form = h(
    'form',
    { class: 'fields', 'aria-labelledby': 'invite-title', novalidate: true },
    field('Email', email),
    field('Role', role),
    h('div', { class: 'field-actions' }, submit),
  );
  let busy = false;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    client.auth.invitations.create
      .mutate({ email: email.value, role: role.value as Role })
      .then(async ({ invitation, token }) => {
        form.reset();
        report.ok(`Invited ${invitation.email} as ${ROLE_LABELS[invitation.role]}.`);
        showInvitationLink(`Invitation for ${invitation.email}`, invitation, token);
        await afterInvite();
      })
      .catch((error) => report.fail(error))
      .finally(() => {
        busy = false;
      });
  });
  return h('div', {}, h('h3', { id: 'invite-title' }, 'Invite someone'), form);
}
