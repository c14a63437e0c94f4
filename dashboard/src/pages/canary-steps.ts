import { button, field, h } from '../dom';
import type { Spec } from './deployment-form';

type CanaryStep = Extract<Spec, { strategy: 'canary' }>['steps'][number];
type StepKind = 'setWeight' | 'pause' | 'gate' | 'analysis';

const KIND_LABELS: Record<StepKind, string> = {
  setWeight: 'Set weight',
  pause: 'Pause',
  gate: 'Gate',
  analysis: 'Analysis',
};
const AMOUNT_LABELS: Record<Exclude<StepKind, 'analysis'>, string> = {
  setWeight: 'Set the new version’s traffic to (%)',
  pause: 'Pause for (seconds; empty: until approved)',
  gate: 'Wait for approval at the gate named',
};
const OPERATORS = ['<', '<=', '>', '>=', '=='] as const;

let stepIds = 0;

/**
 * A canary's steps as rows, in order: set a weight, pause (timed, or until approved), wait at a
 * named gate, or analyse one metric (measured `count` times, `interval` apart, each against a
 * success condition; a failure aborts). The API takes up to ten metrics an analysis; the form
 * offers one, which is what a step usually checks.
 */
export function canaryEditor() {
  const rows = h('div', { class: 'step-list', 'aria-label': 'Canary steps' });
  const add = (kind: StepKind, value: string) => rows.appendChild(stepRow(kind, value));
  add('setWeight', '20');
  add('pause', '60');
  add('setWeight', '50');
  add('gate', 'looks good');
  const element = h(
    'fieldset',
    {},
    h('legend', {}, 'Canary steps, in order'),
    rows,
    button('Add a step', () => add('setWeight', '100')),
  );
  return {
    element,
    spec: (): Spec => ({
      strategy: 'canary',
      steps: [...rows.querySelectorAll<HTMLElement>('[data-step]')].map(readStep),
    }),
  };
}

function stepRow(kind: StepKind, value: string): HTMLElement {
  const id = ++stepIds;
  const type = h(
    'select',
    { id: `step-kind-${id}`, name: 'kind' },
    ...Object.entries(KIND_LABELS).map(([k, label]) =>
      h('option', { value: k, selected: k === kind }, label),
    ),
  );
  const amount = h('input', { id: `step-value-${id}`, name: 'amount', value, autocomplete: 'off' });
  const amountField = field(AMOUNT_LABELS.setWeight, amount);
  const label = amountField.querySelector('label')!;
  const analysis = analysisFields(id);
  const fitKind = () => {
    const chosen = type.value as StepKind;
    amountField.hidden = chosen === 'analysis';
    analysis.element.hidden = chosen !== 'analysis';
    for (const control of analysis.required) control.required = chosen === 'analysis';
    if (chosen === 'analysis') {
      amount.required = false;
      return;
    }
    label.textContent = AMOUNT_LABELS[chosen];
    amount.type = chosen === 'gate' ? 'text' : 'number';
    amount.min = '0';
    amount.max = chosen === 'setWeight' ? '100' : '';
    amount.step = 'any';
    amount.required = chosen !== 'pause';
  };
  type.addEventListener('change', () => {
    amount.value = '';
    fitKind();
  });
  fitKind();
  const row = h(
    'div',
    { class: 'step-row', 'data-step': '' },
    field('Step', type),
    amountField,
    analysis.element,
    button('Remove', () => row.remove(), { 'aria-label': `Remove step ${id}` }),
  );
  return row;
}

function analysisFields(id: number) {
  const name = h('input', {
    id: `analysis-metric-${id}`,
    name: 'metric',
    value: 'error-ratio',
    spellcheck: 'false',
  });
  const query = h('input', {
    id: `analysis-query-${id}`,
    name: 'query',
    spellcheck: 'false',
    placeholder: 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))',
  });
  const op = h(
    'select',
    { id: `analysis-op-${id}`, name: 'op' },
    ...OPERATORS.map((o) => h('option', { value: o, selected: o === '<' }, o)),
  );
  const threshold = h('input', {
    id: `analysis-value-${id}`,
    name: 'threshold',
    type: 'number',
    step: 'any',
    value: '0.05',
  });
  const interval = h('input', {
    id: `analysis-interval-${id}`,
    name: 'interval',
    type: 'number',
    min: '0.05',
    max: '3600',
    step: 'any',
    value: '30',
  });
  const count = h('input', {
    id: `analysis-count-${id}`,
    name: 'count',
    type: 'number',
    min: '1',
    max: '100',
    value: '3',
  });
  const element = h(
    'div',
    { class: 'step-row', 'data-analysis': '' },
    field('Metric name', name),
    field('Query (PromQL, or an expression over the targets’ /metrics)', query, { wide: true }),
    field('Succeeds when the value is', op),
    field('than (or equal to)', threshold),
    field('Every (seconds)', interval),
    field('Times', count),
  );
  return { element, required: [name, query, threshold, interval, count] };
}

function readStep(row: HTMLElement): CanaryStep {
  const value = (name: string) =>
    row.querySelector<HTMLInputElement | HTMLSelectElement>(`[name=${name}]`)!.value.trim();
  const kind = value('kind') as StepKind;
  const amount = value('amount');
  if (kind === 'setWeight') return { setWeight: Number(amount) };
  if (kind === 'gate') return { gate: { name: amount } };
  if (kind === 'pause') return { pause: amount === '' ? {} : { durationSeconds: Number(amount) } };
  return {
    analysis: {
      metrics: [
        {
          name: value('metric'),
          query: value('query'),
          successCondition: {
            op: value('op') as (typeof OPERATORS)[number],
            value: Number(value('threshold')),
          },
        },
      ],
      intervalSeconds: Number(value('interval')),
      count: Number(value('count')),
    },
  };
}
