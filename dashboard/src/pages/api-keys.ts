import { client, describeError, type Me } from '../api';
import { button, confirmAction, field, formatDate, h, table } from '../dom';
import { apiKeySettingsFields } from './api-key-form';
import { renderApiKeyPage } from './api-key-page';
import { openFormDialog } from './form-dialog';
import { refresher, status } from './refresher';
import { showApiKey } from './shown-once';

/** Grace periods offered when rotating, in seconds. */
const GRACE_PERIODS: [number, string][] = [
  [0, 'no time: it stops now'],
  [3_600, 'one hour'],
  [86_400, 'one day'],
  [7 * 86_400, 'seven days'],
];

/** The keys of the organization, a form to create one, and (`#/api-keys?id=…`) one key's page. */
export function renderApiKeys(main: HTMLElement, me: Me): () => void {
  const id = new URLSearchParams(window.location.hash.split('?', 2)[1] ?? '').get('id');
  if (id) return renderApiKeyPage(main, me, id);

  const list = h('div');
  const message = h('p', { class: 'error', role: 'alert' });
  const name = h('input', { id: 'api-key-name', name: 'name', required: true, maxlength: '100' });
  const environment = h(
    'select',
    { id: 'api-key-environment', name: 'environment' },
    h('option', { value: 'live' }, 'live (bc_live_…)'),
    h('option', { value: 'test' }, 'test (bc_test_…)'),
  );
  let settings = apiKeySettingsFields('new-key', me);
  const settingsBox = h('div', { class: 'key-form-settings' }, ...settings.fields);
  const form = h(
    'form',
    { class: 'key-form', 'aria-label': 'Create an API key' },
    h('h2', {}, 'Create an API key'),
    field('Name', name),
    field('Environment', environment, {
      hint: 'Part of the key itself: a test key is told apart at a glance.',
    }),
    settingsBox,
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
          {
            header: 'Name',
            cell: (key) => h('a', { href: `#/api-keys?id=${encodeURIComponent(key.id)}` }, key.name),
          },
          { header: 'Prefix', cell: (key) => h('code', {}, key.prefix) },
          { header: 'Scopes', cell: (key) => key.scopes.join(', ') || 'none' },
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
      showApiKey('Your rotated API key', issued.name, issued.key);
      void keys.reload();
    });
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    client.auth.apiKeys.create
      .mutate({
        name: name.value,
        environment: environment.value === 'test' ? 'test' : 'live',
        ...settings.read(),
      })
      .then(async (created) => {
        // A fresh form: nothing of this key's settings carries over to the next.
        name.value = '';
        settings = apiKeySettingsFields('new-key', me);
        settingsBox.replaceChildren(...settings.fields);
        showApiKey('Your new API key', created.apiKey.name, created.key);
        await keys.reload();
      })
      .catch((error) => {
        message.textContent = describeError(error);
      });
  });
  return keys.stop;
}
