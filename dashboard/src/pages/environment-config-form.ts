import { client } from '../api';
import { button, field, h } from '../dom';
import { openFormDialog } from './form-dialog';

type Environment = Awaited<ReturnType<typeof client.devops.environments.get.query>>;
type Value = string | number | boolean;
type ValueType = 'string' | 'number' | 'boolean';

let rowIds = 0;

/**
 * Edits an environment's configuration as one new revision: the values (key, type, value; rows
 * added and removed), and the secrets by name only. A secret's value is never shown nor sent
 * back: its field starts empty, and only a typed value replaces it (or a tick deletes it). The
 * change names the revision it was made against, so a concurrent change is refused, not lost.
 */
export function openConfigForm(environment: Environment, onSaved: () => void): void {
  const { current } = environment;
  const valueRows = h('div', { class: 'step-list', 'aria-label': 'Values' });
  for (const [key, value] of Object.entries(current.values)) valueRows.appendChild(valueRow(key, value));
  const addValue = button('Add a value', () => {
    const added = valueRow('', '');
    valueRows.appendChild(added);
    added.querySelector('input')?.focus();
  });

  const secretRows = h('div', { class: 'step-list', 'aria-label': 'Secrets' });
  for (const [key, secret] of Object.entries(current.secrets))
    secretRows.appendChild(secretRow(key, secret.fingerprint));
  const addSecret = button('Add a secret', () => {
    const added = secretRow('', null);
    secretRows.appendChild(added);
    added.querySelector('input')?.focus();
  });
  const message = h('input', { id: 'config-message', name: 'message', maxlength: '500' });

  const dialog = openFormDialog({
    title: `Configuration of ${environment.name}`,
    fields: [
      h('h3', {}, 'Values'),
      valueRows,
      addValue,
      h('h3', {}, 'Secrets'),
      h(
        'p',
        { class: 'muted' },
        'Values of secrets are never shown. Leave a field empty to keep the secret as it is.',
      ),
      secretRows,
      addSecret,
      field('What changed and why', message),
    ],
    submitLabel: 'Save as a new revision',
    submit: async () => {
      await client.devops.environments.setConfig.mutate({
        name: environment.name,
        values: readValues(valueRows),
        secrets: readSecrets(secretRows),
        message: message.value,
        expectedRevision: current.revision,
      });
      onSaved();
    },
  });
  dialog.classList.add('wide-dialog');
}

function valueRow(key: string, value: Value): HTMLElement {
  const id = ++rowIds;
  const keyInput = h('input', {
    id: `value-key-${id}`,
    name: 'key',
    value: key,
    required: true,
    pattern: '[A-Z][A-Z0-9_]{0,63}',
    spellcheck: 'false',
  });
  const type = h(
    'select',
    { id: `value-type-${id}`, name: 'type' },
    ...(['string', 'number', 'boolean'] as const).map((t) =>
      h(
        'option',
        { value: t, selected: typeof value === t },
        { string: 'text', number: 'number', boolean: 'true/false' }[t],
      ),
    ),
  );
  const valueInput = h('input', {
    id: `value-value-${id}`,
    name: 'value',
    value: String(value),
    spellcheck: 'false',
  });
  const element = h(
    'div',
    { class: 'step-row', 'data-value-row': '' },
    field('Key', keyInput),
    field('Type', type),
    field('Value', valueInput),
    button('Remove', () => element.remove(), { 'aria-label': `Remove value ${key || 'row'}` }),
  );
  return element;
}

function secretRow(key: string, fingerprint: string | null): HTMLElement {
  const id = ++rowIds;
  const keyInput = h('input', {
    id: `secret-key-${id}`,
    name: 'secretKey',
    value: key,
    required: true,
    readonly: fingerprint !== null,
    pattern: '[A-Z][A-Z0-9_]{0,63}',
    spellcheck: 'false',
  });
  const valueInput = h('input', {
    id: `secret-value-${id}`,
    name: 'secretValue',
    type: 'password',
    autocomplete: 'off',
    required: fingerprint === null,
    placeholder: fingerprint === null ? '' : `unchanged (${fingerprint.slice(0, 12)}…)`,
  });
  const remove = h('input', { id: `secret-delete-${id}`, name: 'delete', type: 'checkbox' });
  return h(
    'div',
    { class: 'step-row', 'data-secret-row': '', 'data-existing': fingerprint !== null },
    field('Secret', keyInput),
    field(fingerprint === null ? 'Value' : 'New value', valueInput),
    fingerprint === null ? null : field('Delete', remove),
  );
}

function readValues(rows: HTMLElement): Record<string, Value> {
  const values: Record<string, Value> = {};
  for (const row of rows.querySelectorAll<HTMLElement>('[data-value-row]')) {
    const key = row.querySelector<HTMLInputElement>('[name=key]')!.value.trim();
    const type = row.querySelector<HTMLSelectElement>('[name=type]')!.value as ValueType;
    const text = row.querySelector<HTMLInputElement>('[name=value]')!.value;
    if (type === 'number') {
      const number = Number(text);
      if (text.trim() === '' || !Number.isFinite(number))
        throw new Error(`${key}: "${text}" is not a number`);
      values[key] = number;
    } else if (type === 'boolean') {
      if (!/^(true|false)$/i.test(text.trim())) throw new Error(`${key}: write true or false`);
      values[key] = text.trim().toLowerCase() === 'true';
    } else values[key] = text;
  }
  return values;
}

/** Only what changes: a typed value sets the secret, a tick deletes it, an empty field keeps it. */
function readSecrets(rows: HTMLElement): Record<string, string | null> {
  const secrets: Record<string, string | null> = {};
  for (const row of rows.querySelectorAll<HTMLElement>('[data-secret-row]')) {
    const key = row.querySelector<HTMLInputElement>('[name=secretKey]')!.value.trim();
    const value = row.querySelector<HTMLInputElement>('[name=secretValue]')!.value;
    const remove = row.querySelector<HTMLInputElement>('[name=delete]')?.checked ?? false;
    if (remove) secrets[key] = null;
    else if (value !== '') secrets[key] = value;
  }
  return secrets;
}
