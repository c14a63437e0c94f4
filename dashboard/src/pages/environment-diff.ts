import type { client } from '../api';
import { h, table } from '../dom';

export type ConfigDiff = Awaited<ReturnType<typeof client.devops.environments.diff.query>>['diff'];

interface DiffRow {
  key: string;
  kind: 'value' | 'secret';
  change: 'added' | 'removed' | 'changed';
  from: string;
  to: string;
}

/**
 * A configuration diff as a table, one row per key that changed, coloured by the change. Secrets
 * appear by name only: the server never sends their values, before or after.
 */
export function drawDiff(caption: string, diff: ConfigDiff): HTMLElement {
  const hidden = 'value hidden';
  const rows: DiffRow[] = [
    ...Object.entries(diff.values.added).map(([key, to]) => row(key, 'value', 'added', '–', shown(to))),
    ...Object.entries(diff.values.removed).map(([key, from]) =>
      row(key, 'value', 'removed', shown(from), '–'),
    ),
    ...Object.entries(diff.values.changed).map(([key, c]) =>
      row(key, 'value', 'changed', shown(c.from), shown(c.to)),
    ),
    ...diff.secrets.added.map((key) => row(key, 'secret', 'added', '–', hidden)),
    ...diff.secrets.removed.map((key) => row(key, 'secret', 'removed', hidden, '–')),
    ...diff.secrets.changed.map((key) => row(key, 'secret', 'changed', hidden, hidden)),
  ].sort((a, b) => a.key.localeCompare(b.key));
  const element = table(
    caption,
    [
      { header: 'Key', cell: (r) => h('code', {}, r.key) },
      { header: 'Kind', cell: (r) => r.kind },
      { header: 'Change', cell: (r) => r.change },
      { header: 'Before', cell: (r) => h('code', {}, r.from) },
      { header: 'After', cell: (r) => h('code', {}, r.to) },
    ],
    rows,
  );
  // Colour each row by its change (the table's rows are in the order of `rows`).
  element.querySelectorAll('tbody tr').forEach((tr, index) => {
    const change = rows[index]?.change;
    if (change) tr.classList.add(`diff-${change}`);
  });
  if (rows.length === 0) element.querySelector('tbody td')!.textContent = 'No differences';
  return element;
}

function row(
  key: string,
  kind: DiffRow['kind'],
  change: DiffRow['change'],
  from: string,
  to: string,
): DiffRow {
  return { key, kind, change, from, to };
}

/** A value as it was typed: strings bare, numbers and booleans as JSON (so "1" and 1 differ). */
export function shown(value: string | number | boolean): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
