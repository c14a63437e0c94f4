import { client, describeError } from '../api';
import { button, confirmAction, formatDate, h, openDialog } from '../dom';
import { tableOf } from './figures';
import { refresher } from './refresher';

/**
 * The organization's alert webhooks (an admin's section of the Alerts page): list, create (the
 * signing secret is shown once) and delete. The server refuses private and local URLs.
 */
export function renderAlertWebhooks(section: HTMLElement): () => void {
  const heading = h('h2', { id: 'alert-webhooks-title', tabindex: '-1' }, 'Webhooks');
  const list = h('div');
  const message = h('p', { class: 'error', role: 'alert', id: 'alert-webhook-message' });
  const name = h('input', {
    id: 'alert-webhook-name',
    name: 'name',
    required: true,
    maxlength: '100',
    autocomplete: 'off',
    'aria-describedby': 'alert-webhook-message',
  });
  const url = h('input', {
    id: 'alert-webhook-url',
    name: 'url',
    type: 'url',
    required: true,
    maxlength: '2000',
    autocomplete: 'off',
    placeholder: 'https://alerts.example.com/hook',
    'aria-describedby': 'alert-webhook-message',
  });
  const form = h(
    'form',
    { class: 'alert-form', 'aria-label': 'Create a webhook' },
    h('div', { class: 'field' }, h('label', { for: 'alert-webhook-name' }, 'Webhook name'), name),
    h('div', { class: 'field wide' }, h('label', { for: 'alert-webhook-url' }, 'Webhook URL'), url),
    h('div', { class: 'field submit' }, h('button', { type: 'submit', class: 'primary' }, 'Create webhook')),
    message,
  );
  section.replaceChildren(
    h(
      'section',
      { 'aria-labelledby': 'alert-webhooks-title' },
      heading,
      h('p', {}, 'Firing and resolved alerts are posted here, signed with the webhook’s secret.'),
      form,
      list,
    ),
  );

  const webhooks = refresher(
    list,
    () => client.performance.alerts.webhooks.list.query(),
    (rows) =>
      tableOf(
        'alert-table',
        'Webhooks',
        [
          { header: 'Name', cell: (w) => w.name },
          { header: 'URL', cell: (w) => h('code', {}, w.url) },
          { header: 'Enabled', cell: (w) => (w.enabled ? 'yes' : 'no') },
          { header: 'Created', cell: (w) => formatDate(w.createdAt) },
          {
            header: 'Actions',
            cell: (w) =>
              button('Delete', () => void remove(w.id, w.name), {
                class: 'danger',
                'aria-label': `Delete webhook ${w.name}`,
              }),
          },
        ],
        rows,
      ),
  );

  async function remove(id: string, webhookName: string) {
    if (!(await confirmAction(`Delete the webhook “${webhookName}”? Queued notifications go too.`, 'Delete')))
      return;
    message.textContent = '';
    try {
      await client.performance.alerts.webhooks.delete.mutate({ id });
      await webhooks.reload();
      heading.focus();
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    client.performance.alerts.webhooks.create
      .mutate({ name: name.value, url: url.value })
      .then(async (created) => {
        name.value = '';
        url.value = '';
        // Receivers check deliveries with this secret; the server keeps it sealed and never shows it again.
        openDialog(
          'Your new webhook secret',
          h('p', {}, 'Copy it now: it is shown only once.'),
          h('p', {}, 'Webhook: ', h('strong', {}, created.name)),
          h('code', { class: 'secret', 'data-testid': 'new-webhook-secret' }, created.secret),
        );
        await webhooks.reload();
      })
      .catch((error) => {
        message.textContent = describeError(error);
      });
  });
  return webhooks.stop;
}
