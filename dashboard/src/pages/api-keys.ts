import { client, describeError } from '../api';
import { button, confirmAction, field, formatDate, h, openDialog, table } from '../dom';
import { openFormDialog } from './form-dialog';
import { refresher, status } from './refresher';

/** Grace periods offered when rotating, in seconds. */
const GRACE_PERIODS: [number, string][] = [
  [0, 'no time: it stops now'],
  [3_600, 'one hour'],
  [86_400, 'one day'],
  [7 * 86_400, 'seven days'],
];

/** The key itself exists only in the answer that issued it: the server keeps its hash. */
function showNewKey(title: string, name: string, key: string): void {
  openDialog(
    title,
    h('p', {}, 'Copy it now: it is shown only once.'),
    h('p', {}, 'Name: ', h('strong', {}, name)),
    h('code', { class: 'secret', 'data-testid': 'new-api-key' }, key),
  );
}

export function renderApiKeys(main: HTMLElement): () => void {
  const list = h('div');
  const message = h('p', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'api-key-name', name: 'name', required: true, maxlength: '100' });
  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Create an API key' },
    h('label', { for: 'api-key-name' }, 'Name'),
    name,
    h('button', { type: 'submit', class: 'primary' }, 'Create key'),
  );
  main.replaceChildren(h('h1', {}, 'API keys'), form, message, list);

  const keys = refresher(
    list,
    () => client.auth.apiKeys.list.query({ limit: 100 }),
    (page) =>
      table(
        'API keys',
        [
          { header: 'Name', cell: (key) => key.name },
          { header: 'Prefix', cell: (key) => h('code', {}, key.prefix) },
          { header: 'Scopes', cell: (key) => key.scopes.join(', ') || 'all of the owner' },
          { header: 'Created', cell: (key) => formatDate(key.createdAt) },
          { header: 'Last used', cell: (key) => formatDate(key.lastUsedAt) },
          {
            header: 'Status',
            cell: (key) => status(key.revokedAt ? 'revoked' : key.enabled ? 'active' : 'disabled'),
          },
          {
            header: 'Actions',
            cell: (key) =>
              key.revokedAt
                ? ''
                : h(
                    'div',
                    { class: 'row-actions' },
                    button('Rotate', () => rotate(key.id, key.name), {
                      'aria-label': `Rotate API key ${key.name}`,
                    }),
                    button('Revoke', () => void revoke(key.id, key.name), {
                      class: 'danger',
                      'aria-label': `Revoke API key ${key.name}`,
                    }),
                  ),
          },
        ],
        page.items,
      ),
  );

  async function revoke(id: string, keyName: string) {
    if (!(await confirmAction(`Revoke the API key “${keyName}”? Calls with it fail from now on.`, 'Revoke')))
      return;
    try {
      await client.auth.apiKeys.revoke.mutate({ id });
      message.textContent = '';
      await keys.reload();
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  /**
   * A new key with the same name, scopes and limits; the old one keeps working for the grace
   * period, so the services using it can switch without an outage.
   */
  function rotate(id: string, keyName: string) {
    const grace = h(
      'select',
      { id: 'rotate-grace', name: 'gracePeriodSeconds' },
      ...GRACE_PERIODS.map(([seconds, label]) => h('option', { value: String(seconds) }, label)),
    );
    let issued: { name: string; key: string } | null = null;
    const dialog = openFormDialog({
      title: `Rotate the API key “${keyName}”`,
      fields: [field('The old key keeps working for', grace)],
      submitLabel: 'Rotate',
      submit: async () => {
        const rotated = await client.auth.apiKeys.rotate.mutate({
          id,
          gracePeriodSeconds: Number(grace.value),
        });
        issued = { name: rotated.apiKey.name, key: rotated.key };
      },
    });
    // One dialog at a time: the new key shows once this one has closed.
    dialog.addEventListener('close', () => {
      if (!issued) return;
      message.textContent = '';
      showNewKey('Your rotated API key', issued.name, issued.key);
      void keys.reload();
    });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    client.auth.apiKeys.create
      .mutate({ name: name.value })
      .then(async (created) => {
        name.value = '';
        showNewKey('Your new API key', created.apiKey.name, created.key);
        await keys.reload();
      })
      .catch((error) => {
        message.textContent = describeError(error);
      });
  });
  return keys.stop;
}
