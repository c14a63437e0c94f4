import { client, describeError } from '../api';
import { field, h, table } from '../dom';
import { shown } from './environment-diff';

type Comparison = Awaited<ReturnType<typeof client.devops.environments.compare.query>>;

interface Row {
  key: string;
  kind: 'value' | 'secret';
  a: string;
  b: string;
  verdict: string;
}

/**
 * Two environments side by side (operators and admins): which keys only one has, and which differ.
 * Secrets are compared by fingerprint on the server, so the answer says "differs" without a value.
 */
export function environmentComparison(names: string[]): HTMLElement {
  const choice = (id: string, label: string, selected: string | undefined) =>
    field(
      label,
      h(
        'select',
        { id, name: id },
        ...names.map((n) => h('option', { value: n, selected: n === selected }, n)),
      ),
    );
  const a = choice('compare-a', 'Environment', names.find((n) => n === 'staging') ?? names[0]);
  const b = choice('compare-b', 'with', names.find((n) => n === 'production') ?? names[1]);
  const result = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'inline-form', 'aria-label': 'Compare two environments' },
    a,
    b,
    h('button', { type: 'submit' }, 'Compare environments'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const [nameA, nameB] = [a, b].map((f) => f.querySelector('select')!.value) as [string, string];
    client.devops.environments.compare
      .query({ a: nameA, b: nameB })
      .then((comparison) => result.replaceChildren(draw(comparison)))
      .catch((error) =>
        result.replaceChildren(h('p', { class: 'error', role: 'alert' }, describeError(error))),
      );
  });
  return h(
    'section',
    { 'aria-labelledby': 'compare-title' },
    h('h2', { id: 'compare-title' }, 'Compare environments'),
    form,
    result,
  );
}

function draw(c: Comparison): HTMLElement {
  const missing = '–';
  const hidden = 'value hidden';
  const rows: Row[] = [
    ...Object.entries(c.values.onlyInA).map(([key, v]) =>
      row(key, 'value', shown(v), missing, `only in ${c.a.name}`),
    ),
    ...Object.entries(c.values.onlyInB).map(([key, v]) =>
      row(key, 'value', missing, shown(v), `only in ${c.b.name}`),
    ),
    ...Object.entries(c.values.different).map(([key, d]) =>
      row(key, 'value', shown(d.a), shown(d.b), 'differs'),
    ),
    ...c.secrets.onlyInA.map((key) => row(key, 'secret', hidden, missing, `only in ${c.a.name}`)),
    ...c.secrets.onlyInB.map((key) => row(key, 'secret', missing, hidden, `only in ${c.b.name}`)),
    ...c.secrets.different.map((key) => row(key, 'secret', hidden, hidden, 'differs')),
  ].sort((x, y) => x.key.localeCompare(y.key));
  const same = c.values.same.length + c.secrets.same.length;
  return h(
    'div',
    { 'data-testid': 'environment-comparison' },
    table(
      `${c.a.name} (revision ${c.a.revision}) and ${c.b.name} (revision ${c.b.revision})`,
      [
        { header: 'Key', cell: (r) => h('code', {}, r.key) },
        { header: 'Kind', cell: (r) => r.kind },
        { header: c.a.name, cell: (r) => h('code', {}, r.a) },
        { header: c.b.name, cell: (r) => h('code', {}, r.b) },
        { header: 'Difference', cell: (r) => r.verdict },
      ],
      rows,
    ),
    h('p', { class: 'muted' }, `${same} ${same === 1 ? 'key is' : 'keys are'} the same in both.`),
  );
}

function row(key: string, kind: Row['kind'], a: string, b: string, verdict: string): Row {
  return { key, kind, a, b, verdict };
}
