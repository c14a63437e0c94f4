import { client, describeError, holdsRole, type Me } from '../api';
import { button, field, formatDate, h, table } from '../dom';
import { environmentComparison } from './environment-compare';
import { openConfigForm } from './environment-config-form';
import { drawDiff, shown } from './environment-diff';
import { openFormDialog } from './form-dialog';
import { refresher } from './refresher';

type Environment = Awaited<ReturnType<typeof client.devops.environments.get.query>>;
type History = Awaited<ReturnType<typeof client.devops.environments.history.query>>;

/**
 * An organization's environments and their configuration: everyone reads the current values
 * (secrets redacted), operators read the revision history and diffs between any two revisions,
 * admins create environments, change configuration and roll back to a revision (the server's
 * policy; what a role may not do is not drawn).
 */
export function renderEnvironments(main: HTMLElement, me: Me): () => void {
  const mayRead = holdsRole(me, 'operator');
  const mayChange = holdsRole(me, 'admin');
  const list = h('div');
  const detail = h('section', { 'aria-label': 'Selected environment', 'aria-live': 'polite' });
  const message = h('p', { class: 'error', role: 'alert' });
  const comparison = h('div');
  main.replaceChildren(
    h('h1', {}, 'Environments'),
    mayChange ? h('div', { class: 'toolbar' }, button('New environment', create, { class: 'primary' })) : '',
    message,
    list,
    detail,
    comparison,
  );
  let selected: string | null = null;

  const environments = refresher(
    list,
    () => client.devops.environments.list.query(),
    (rows) => {
      showComparison(rows.map((e) => e.name));
      return table(
        'Environments',
        [
          { header: 'Name', cell: (e) => h('code', {}, e.name) },
          { header: 'Description', cell: (e) => e.description || '–' },
          { header: 'Protected', cell: (e) => (e.protected ? 'yes' : 'no') },
          { header: 'Revision', cell: (e) => e.revision },
          { header: 'Created', cell: (e) => formatDate(e.createdAt) },
          {
            header: 'Configuration',
            cell: (e) =>
              button('Open', () => void open(e.name), { 'aria-label': `Open environment ${e.name}` }),
          },
        ],
        rows,
      );
    },
  );

  /** The comparison form, redrawn only when the environments change (a reload keeps its answer). */
  let compared = '';
  function showComparison(names: string[]) {
    if (!mayRead || names.length < 2 || names.join() === compared) return;
    compared = names.join();
    comparison.replaceChildren(environmentComparison(names));
  }

  function create() {
    const name = h('input', {
      id: 'environment-name',
      name: 'name',
      required: true,
      pattern: '[a-z][a-z0-9-]{0,62}',
    });
    const description = h('input', { id: 'environment-description', name: 'description', maxlength: '500' });
    const protect = h('input', { id: 'environment-protected', name: 'protected', type: 'checkbox' });
    openFormDialog({
      title: 'New environment',
      fields: [
        field('Name', name, { hint: 'Lower-case letters, digits and -, starting with a letter.' }),
        field('Description', description),
        field('Protected: stricter rules, and every change must name the revision it replaces', protect),
      ],
      submitLabel: 'Create environment',
      submit: async () => {
        await client.devops.environments.create.mutate({
          name: name.value.trim(),
          description: description.value,
          protected: protect.checked,
        });
        await environments.reload();
        await open(name.value.trim());
      },
    });
  }

  async function open(name: string) {
    selected = name;
    message.textContent = '';
    try {
      const [environment, history] = await Promise.all([
        client.devops.environments.get.query({ name }),
        mayRead ? client.devops.environments.history.query({ name, limit: 100 }) : Promise.resolve(null),
      ]);
      if (selected === name) detail.replaceChildren(drawEnvironment(environment, history));
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  async function refresh(name: string) {
    await Promise.all([environments.reload(), open(name)]);
  }

  function drawEnvironment(environment: Environment, history: History | null): Node {
    const { current } = environment;
    const values = Object.entries(current.values);
    const secrets = Object.entries(current.secrets);
    return h(
      'div',
      { class: 'detail', 'data-testid': 'environment-detail' },
      h('h2', {}, `${environment.name}: revision ${current.revision}`),
      h(
        'p',
        { class: 'muted' },
        `Last changed ${formatDate(current.createdAt)} by ${current.author.email ?? 'an API key or a removed user'}`,
        current.message ? `: ${current.message}` : '',
      ),
      mayChange
        ? h(
            'div',
            { class: 'toolbar' },
            button(
              'Edit configuration',
              () => openConfigForm(environment, () => void refresh(environment.name)),
              {
                class: 'primary',
              },
            ),
          )
        : null,
      table(
        'Values',
        [
          { header: 'Key', cell: ([key]) => h('code', {}, key) },
          { header: 'Value', cell: ([, value]) => h('code', {}, shown(value)) },
        ],
        values,
      ),
      table(
        'Secrets (values never shown)',
        [
          { header: 'Key', cell: ([key]) => h('code', {}, key) },
          { header: 'Value', cell: ([, secret]) => secret.value },
          { header: 'Fingerprint', cell: ([, secret]) => h('code', {}, secret.fingerprint.slice(0, 16)) },
        ],
        secrets,
      ),
      history ? drawHistory(environment, history) : null,
    );
  }

  /** The revisions, newest first; two chosen ones are compared, and any but the current restored. */
  function drawHistory(environment: Environment, history: History): Node {
    const revisions = history.items.map((item) => item.revision);
    const choice = (id: string, label: string, selectedRevision: number | undefined) =>
      field(
        label,
        h(
          'select',
          { id, name: id },
          ...revisions.map((r) =>
            h('option', { value: String(r), selected: r === selectedRevision }, `revision ${r}`),
          ),
        ),
      );
    const from = choice('diff-from', 'From revision', revisions[1] ?? revisions[0]);
    const to = choice('diff-to', 'To revision', revisions[0]);
    const diffView = h('div', { 'data-testid': 'config-diff', 'aria-live': 'polite' });
    const compare = h(
      'form',
      { class: 'inline-form', 'aria-label': 'Compare two revisions' },
      from,
      to,
      h('button', { type: 'submit' }, 'Compare'),
    );
    compare.addEventListener('submit', (event) => {
      event.preventDefault();
      const a = Number(from.querySelector('select')!.value);
      const b = Number(to.querySelector('select')!.value);
      client.devops.environments.diff
        .query({ name: environment.name, from: a, to: b })
        .then((answer) =>
          diffView.replaceChildren(drawDiff(`Changes from revision ${a} to revision ${b}`, answer.diff)),
        )
        .catch((error) =>
          diffView.replaceChildren(h('p', { class: 'error', role: 'alert' }, describeError(error))),
        );
    });
    return h(
      'section',
      { 'aria-labelledby': 'history-title' },
      h('h3', { id: 'history-title' }, 'History'),
      table(
        'Revisions, newest first',
        [
          { header: 'Revision', cell: (r) => r.revision },
          { header: 'When', cell: (r) => formatDate(r.createdAt) },
          { header: 'By', cell: (r) => r.author.email ?? (r.author.apiKeyId ? 'an API key' : '–') },
          {
            header: 'Message',
            cell: (r) =>
              r.rolledBackFrom
                ? `${r.message || 'rollback'} (restores revision ${r.rolledBackFrom})`
                : r.message || '–',
          },
          { header: 'Changed', cell: (r) => changedKeys(r.diff) },
          ...(mayChange
            ? [
                {
                  header: 'Actions',
                  cell: (r: History['items'][number]) =>
                    r.revision === environment.current.revision
                      ? 'current'
                      : button('Roll back to this', () => rollback(environment, r.revision), {
                          class: 'danger',
                          'aria-label': `Roll back ${environment.name} to revision ${r.revision}`,
                        }),
                },
              ]
            : []),
        ],
        history.items,
      ),
      revisions.length > 1 ? compare : null,
      diffView,
    );
  }

  function rollback(environment: Environment, revision: number) {
    const reason = h('input', { id: 'rollback-message', name: 'message', maxlength: '500' });
    openFormDialog({
      title: `Roll ${environment.name} back to revision ${revision}`,
      fields: [
        h(
          'p',
          {},
          `Its values and secrets become current again, as a new revision after ${environment.current.revision}.`,
        ),
        field('Why', reason),
      ],
      submitLabel: 'Roll back',
      danger: true,
      submit: async () => {
        await client.devops.environments.rollback.mutate({
          name: environment.name,
          toRevision: revision,
          message: reason.value,
          expectedRevision: environment.current.revision,
        });
        await refresh(environment.name);
      },
    });
  }

  return environments.stop;
}

function changedKeys(diff: History['items'][number]['diff']): string {
  const keys = [
    ...Object.keys(diff.values.added),
    ...Object.keys(diff.values.removed),
    ...Object.keys(diff.values.changed),
    ...diff.secrets.added,
    ...diff.secrets.removed,
    ...diff.secrets.changed,
  ];
  return keys.length > 0 ? keys.sort().join(', ') : 'nothing';
}
