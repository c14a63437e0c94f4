import { client, describeError } from '../api';
import { button, confirmAction, formatDate, h, openDialog, table } from '../dom';
import { refresher, status } from './refresher';

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
                : button('Revoke', () => void revoke(key.id, key.name), {
                    class: 'danger',
                    'aria-label': `Revoke API key ${key.name}`,
                  }),
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

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    client.auth.apiKeys.create
      .mutate({ name: name.value })
      .then(async (created) => {
        name.value = '';
        // The key itself exists only in this answer: the server keeps its hash.
        openDialog(
          'Your new API key',
          h('p', {}, 'Copy it now: it is shown only once.'),
          h('p', {}, 'Name: ', h('strong', {}, created.apiKey.name)),
          h('code', { class: 'secret', 'data-testid': 'new-api-key' }, created.key),
        );
        await keys.reload();
      })
      .catch((error) => {
        message.textContent = describeError(error);
      });
  });
  return keys.stop;
}
