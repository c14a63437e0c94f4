import { client, type Me } from '../api';
import { button, field, formatDate, h, openDialog, table } from '../dom';
import { createPasskey, passkeysSupported } from '../passkeys';
import { feedback, passwordInput } from './form-parts';
import { codeInput, enrolmentForm, showRecoveryCodes } from './second-factor-parts';

type Status = Awaited<ReturnType<typeof client.auth.secondFactor.status.query>>;
type Passkey = Awaited<ReturnType<typeof client.auth.secondFactor.passkeys.list.query>>[number];

/**
 * Your second factor: set up an authenticator app (QR code, first code, recovery codes shown
 * once), new recovery codes, removal; for admins, whether the organization requires one.
 */
export function renderSecondFactor(section: HTMLElement, me: Me): () => void {
  const heading = h('h2', { id: 'second-factor-title', tabindex: '-1' }, 'Second factor');
  const report = feedback();
  const body = h('div', { 'data-testid': 'second-factor' });
  section.append(heading, report.element, body);
  let stopped = false;

  async function reload(): Promise<void> {
    try {
      const [status, passkeys] = await Promise.all([
        client.auth.secondFactor.status.query(),
        client.auth.secondFactor.passkeys.list.query(),
      ]);
      if (!stopped) body.replaceChildren(...view(status), passkeySection(passkeys));
    } catch (error) {
      report.fail(error);
    }
  }

  function view(status: Status): Node[] {
    const nodes: Node[] = [];
    if (status.requiredByOrganization && status.totp !== 'active' && status.passkeys === 0) {
      nodes.push(h('p', { class: 'warning' }, 'Your organization requires a second factor: set one up now.'));
    }
    if (status.totp === 'active') {
      nodes.push(
        h(
          'p',
          { 'data-testid': 'second-factor-status' },
          `An authenticator app is active. ${status.recoveryCodesLeft} of 10 recovery codes left.`,
        ),
        regenerateForm(true),
        h(
          'div',
          { class: 'toolbar' },
          button('Remove the authenticator app', () => void remove(), { class: 'danger' }),
        ),
      );
    } else {
      nodes.push(
        h(
          'p',
          { 'data-testid': 'second-factor-status' },
          status.passkeys === 0
            ? 'Sign-in asks for your password only.'
            : `Sign-in asks for a passkey. ${status.recoveryCodesLeft} of 10 recovery codes left.`,
        ),
        status.passkeys > 0 ? regenerateForm(false) : h('span'),
        h(
          'div',
          { class: 'toolbar' },
          button('Set up an authenticator app', () => void begin(), { class: 'primary' }),
        ),
      );
    }
    if (me.role === 'admin') nodes.push(requirementForm());
    return nodes;
  }

  async function begin(): Promise<void> {
    try {
      const enrolment = await client.auth.secondFactor.totp.begin.mutate();
      body.replaceChildren(
        enrolmentForm(
          enrolment,
          async (code) => {
            const { recoveryCodes } = await client.auth.secondFactor.totp.confirm.mutate({ code });
            report.ok('The authenticator app is active: sign-in asks for its code from now on.');
            showRecoveryCodes(recoveryCodes);
            await reload();
          },
          report,
        ),
        button('Cancel', () => void reload()),
      );
    } catch (error) {
      report.fail(error);
    }
  }

  function passkeySection(passkeys: Passkey[]): HTMLElement {
    const name = h('input', { id: 'passkey-name', name: 'passkey-name', required: true, maxlength: '100' });
    const form = h(
      'form',
      { class: 'fields', 'aria-labelledby': 'passkeys-title' },
      field('Name of the new passkey', name, { hint: 'To tell your passkeys apart, e.g. "laptop".' }),
      h('div', { class: 'field-actions' }, h('button', { type: 'submit' }, 'Add a passkey')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void addPasskey(name.value.trim());
    });
    return h(
      'div',
      { 'data-testid': 'passkeys' },
      h('h3', { id: 'passkeys-title' }, 'Passkeys'),
      passkeys.length === 0
        ? h('p', {}, 'No passkey yet.')
        : table<Passkey>(
            'Your passkeys',
            [
              { header: 'Name', cell: (p) => p.name },
              { header: 'Added', cell: (p) => formatDate(p.createdAt) },
              { header: 'Last used', cell: (p) => formatDate(p.lastUsedAt) },
              {
                header: 'Actions',
                cell: (p) =>
                  button('Remove', () => removePasskey(p), {
                    class: 'danger',
                    'aria-label': `Remove passkey ${p.name}`,
                  }),
              },
            ],
            passkeys,
          ),
      passkeysSupported() ? form : h('p', {}, 'This browser cannot create passkeys.'),
    );
  }

  async function addPasskey(name: string): Promise<void> {
    try {
      const options = await client.auth.secondFactor.passkeys.registrationOptions.mutate();
      const credential = await createPasskey(options);
      const { passkey, recoveryCodes } = await client.auth.secondFactor.passkeys.register.mutate({
        credential,
        name,
      });
      report.ok(`The passkey "${passkey.name}" is added: sign-in can ask for it from now on.`);
      if (recoveryCodes) showRecoveryCodes(recoveryCodes);
      await reload();
    } catch (error) {
      report.fail(error);
    }
  }

  function removePasskey(passkey: Passkey): void {
    const password = passwordInput('remove-passkey-password', 'current-password');
    const refused = feedback();
    const confirm = button(
      'Remove',
      () => {
        client.auth.secondFactor.passkeys.remove
          .mutate({ id: passkey.id, password: password.value })
          .then(async () => {
            dialog.close();
            report.ok(`The passkey "${passkey.name}" is removed.`);
            await reload();
          })
          .catch((error) => refused.fail(error));
      },
      { class: 'danger' },
    );
    const dialog = openDialog(
      `Remove the passkey "${passkey.name}"?`,
      h('p', {}, 'Type your password to confirm.'),
      field('Password', password),
      confirm,
      refused.element,
    );
    password.focus();
  }

  /** New recovery codes, for a code of the app or, with passkeys only, the password. */
  function regenerateForm(withApp: boolean): HTMLElement {
    const code = withApp
      ? codeInput('regenerate-code')
      : passwordInput('regenerate-password', 'current-password');
    const form = h(
      'form',
      { class: 'fields', 'aria-labelledby': 'regenerate-title' },
      field(withApp ? 'Code from the app' : 'Password', code),
      h('div', { class: 'field-actions' }, h('button', { type: 'submit' }, 'New recovery codes')),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      client.auth.secondFactor.regenerateRecoveryCodes
        .mutate(withApp ? { code: code.value.trim() } : { password: code.value })
        .then(async ({ recoveryCodes }) => {
          report.ok('New recovery codes: the old ones no longer work.');
          showRecoveryCodes(recoveryCodes);
          await reload();
        })
        .catch((error) => report.fail(error));
    });
    return h('div', {}, h('h3', { id: 'regenerate-title' }, 'Recovery codes'), form);
  }

  function remove(): void {
    const password = passwordInput('remove-factor-password', 'current-password');
    const refused = feedback();
    const confirm = button(
      'Remove',
      () => {
        client.auth.secondFactor.remove
          .mutate({ password: password.value })
          .then(async () => {
            dialog.close();
            report.ok('The authenticator app is removed: sign-in asks for your password only.');
            await reload();
          })
          .catch((error) => refused.fail(error));
      },
      { class: 'danger' },
    );
    const dialog = openDialog(
      'Remove the authenticator app?',
      h('p', {}, 'Its codes and your recovery codes stop working. Type your password to confirm.'),
      field('Password', password),
      confirm,
      refused.element,
    );
    password.focus();
  }

  function requirementForm(): HTMLElement {
    const box = h('input', { id: 'require-second-factor', type: 'checkbox' });
    const form = h(
      'form',
      { class: 'fields', 'aria-labelledby': 'requirement-title' },
      field('Require a second factor of every member', box, {
        hint: 'Members without one set it up at their next sign-in; sessions opened without one end now.',
      }),
      h('div', { class: 'field-actions' }, h('button', { type: 'submit' }, 'Save')),
    );
    client.auth.secondFactor.requirement
      .query()
      .then(({ required }) => {
        box.checked = required;
      })
      .catch((error) => report.fail(error));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      client.auth.secondFactor.setRequirement
        .mutate({ required: box.checked })
        .then(({ required, revokedSessions }) =>
          report.ok(
            required
              ? `A second factor is required: ${revokedSessions} session(s) opened without one ended.`
              : 'A second factor is no longer required.',
          ),
        )
        .catch((error) => report.fail(error));
    });
    return h('div', {}, h('h3', { id: 'requirement-title' }, 'Your organization'), form);
  }

  void reload();
  return () => {
    stopped = true;
  };
}
