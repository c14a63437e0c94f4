import uPlot from 'uplot';
import {
  API_KEY_OUTCOMES,
  type ApiKeyOutcome,
  type ApiKeyUsageRange,
} from '../../../shared/api-key-constants';
import { client, describeError, type Me } from '../api';
import { button, formatDate, h, table } from '../dom';
import { apiKeySettingsFields } from './api-key-form';
import { openFormDialog } from './form-dialog';
import { status } from './refresher';

type Usage = Awaited<ReturnType<typeof client.auth.apiKeys.usage.query>>;
type ApiKey = Awaited<ReturnType<typeof client.auth.apiKeys.get.query>>;

const REFRESH_MS = 10_000;

/** Words and colours of the outcomes, in the order they stack (valid at the bottom). */
const OUTCOMES: Record<ApiKeyOutcome, { label: string; color: string }> = {
  valid: { label: 'Valid', color: '#16a34a' },
  rate_limited: { label: 'Rate limited', color: '#f59e0b' },
  usage_exceeded: { label: 'Usage exceeded', color: '#ea580c' },
  insufficient_scope: { label: 'Insufficient scope', color: '#7c3aed' },
  expired: { label: 'Expired', color: '#64748b' },
  disabled: { label: 'Disabled', color: '#0ea5e9' },
  revoked: { label: 'Revoked', color: '#dc2626' },
};

const RANGES: [ApiKeyUsageRange, string][] = [
  ['24h', 'Last 24 hours'],
  ['7d', 'Last 7 days'],
  ['30d', 'Last 30 days'],
];

/**
 * One key's page (`#/api-keys?id=…`), as Unkey's: its verifications over time stacked by
 * outcome, the totals, last use and uses left, its settings and an edit form.
 */
export function renderApiKeyPage(main: HTMLElement, me: Me, id: string): () => void {
  const title = h('h1', {}, 'API key');
  const message = h('p', { class: 'error', role: 'alert' });
  const settings = h('div');
  const range = h(
    'select',
    { id: 'usage-range', name: 'range' },
    ...RANGES.map(([value, label]) => h('option', { value }, label)),
  );
  const totals = h('dl', { class: 'stats', 'data-testid': 'usage-totals' });
  const chartBox = h('div', { class: 'usage-chart', 'data-testid': 'usage-chart' });
  main.replaceChildren(
    h('p', {}, h('a', { href: '#/api-keys' }, '← All API keys')),
    title,
    message,
    settings,
    h(
      'section',
      { 'aria-labelledby': 'usage-title' },
      h(
        'div',
        { class: 'toolbar' },
        h('h2', { id: 'usage-title' }, 'Verifications by outcome'),
        h('label', { for: 'usage-range' }, 'Range'),
        range,
      ),
      totals,
      chartBox,
    ),
  );

  let stopped = false;
  let plot: uPlot | null = null;
  let key: ApiKey | null = null;

  const load = async () => {
    try {
      const [loadedKey, usage] = await Promise.all([
        client.auth.apiKeys.get.query({ id }),
        client.auth.apiKeys.usage.query({ id, range: range.value as ApiKeyUsageRange }),
      ]);
      if (stopped) return;
      key = loadedKey;
      message.textContent = '';
      title.textContent = `API key “${loadedKey.name}”`;
      document.title = `${loadedKey.name} · API keys · Beauty Crafter Platform`;
      settings.replaceChildren(describeKey(loadedKey, () => edit()));
      totals.replaceChildren(...summary(usage));
      plot?.destroy();
      plot = drawChart(chartBox, usage);
    } catch (error) {
      if (!stopped) message.textContent = describeError(error);
    }
  };

  function edit() {
    if (!key) return;
    const current = key;
    const { fields, read } = apiKeySettingsFields('edit-key', me, current);
    const name = h('input', { id: 'edit-key-name', name: 'name', required: true, maxlength: '200' });
    name.value = current.name;
    const enabled = h('input', { id: 'edit-key-enabled', type: 'checkbox', checked: current.enabled });
    const dialog = openFormDialog({
      title: `Edit the API key “${current.name}”`,
      fields: [
        h('div', { class: 'field' }, h('label', { for: name.id }, 'Key name'), name),
        ...fields,
        h('div', { class: 'field field-check' }, enabled, h('label', { for: enabled.id }, 'Enabled')),
      ],
      submitLabel: 'Save',
      submit: async () => {
        await client.auth.apiKeys.update.mutate({
          id,
          name: name.value,
          enabled: enabled.checked,
          ...read(),
        });
      },
    });
    dialog.addEventListener('close', () => void load());
  }

  range.addEventListener('change', () => void load());
  void load();
  const timer = setInterval(() => void load(), REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    plot?.destroy();
  };
}

function describeKey(key: ApiKey, edit: () => void): HTMLElement {
  const state = key.revokedAt ? 'revoked' : key.enabled ? 'active' : 'disabled';
  const limits = key.rateLimits.map((limit) => `${limit.name}: ${limit.limit} per ${period(limit.periodMs)}`);
  return h(
    'div',
    { class: 'key-settings' },
    h(
      'dl',
      { class: 'details' },
      h('dt', {}, 'Prefix'),
      h('dd', {}, h('code', {}, key.prefix)),
      h('dt', {}, 'Status'),
      h('dd', {}, status(state)),
      h('dt', {}, 'Scopes'),
      h('dd', {}, key.scopes.join(', ') || 'none'),
      h('dt', {}, 'Expires'),
      h('dd', {}, key.expiresAt ? formatDate(key.expiresAt) : 'never'),
      h('dt', {}, 'Rate limits'),
      h('dd', {}, limits.join('; ') || 'none'),
      h('dt', {}, 'Created'),
      h('dd', {}, formatDate(key.createdAt)),
    ),
    key.revokedAt ? null : button('Edit settings', edit, { class: 'primary' }),
  );
}

/** Totals by outcome, then last use and uses left, as stat boxes. */
function summary(usage: Usage): HTMLElement[] {
  const stat = (label: string, value: string, testId: string) =>
    h('div', { class: 'stat usage-stat' }, h('dt', {}, label), h('dd', { 'data-testid': testId }, value));
  return [
    ...API_KEY_OUTCOMES.map((outcome) =>
      stat(OUTCOMES[outcome].label, String(usage.totals[outcome]), `usage-total-${outcome}`),
    ),
    stat('Last used', usage.lastUsedAt ? formatDate(usage.lastUsedAt) : 'never', 'usage-last-used'),
    stat('Uses left', usage.remaining === null ? 'unlimited' : String(usage.remaining), 'usage-remaining'),
  ];
}

/**
 * Bars stacked by outcome: uPlot draws series in order, so each outcome is drawn as the running
 * sum up to it, the tallest first, and the next covers all but its own band. The legend and the
 * table below show each outcome's own count.
 */
function drawChart(container: HTMLElement, usage: Usage): uPlot {
  container.replaceChildren();
  // Each bar stands in the middle of its bucket, and the axis spans whole buckets.
  const half = usage.bucketSeconds / 2;
  const times = usage.buckets.map((bucket) => Date.parse(bucket.start) / 1000 + half);
  const running = API_KEY_OUTCOMES.map(() => new Array<number>(times.length).fill(0));
  usage.buckets.forEach((bucket, i) => {
    let sum = 0;
    API_KEY_OUTCOMES.forEach((outcome, k) => {
      sum += bucket.counts[outcome];
      running[k]![i] = sum;
    });
  });
  const order = [...API_KEY_OUTCOMES.keys()].reverse();
  const bars = uPlot.paths.bars!({ size: [0.8, 48] });
  const own = (k: number, i: number) => (running[k]![i] ?? 0) - (k > 0 ? (running[k - 1]![i] ?? 0) : 0);
  const plot = new uPlot(
    {
      width: Math.max(300, container.clientWidth || 640),
      height: 260,
      series: [
        {},
        ...order.map((k) => {
          const outcome = API_KEY_OUTCOMES[k]!;
          return {
            label: OUTCOMES[outcome].label,
            stroke: OUTCOMES[outcome].color,
            fill: OUTCOMES[outcome].color,
            paths: bars,
            points: { show: false },
            value: (_u: uPlot, _v: number | null, _s: number, i: number | null) =>
              i === null ? '–' : String(own(k, i)),
          };
        }),
      ],
      axes: [{}, { label: 'verifications', size: 60 }],
      scales: {
        x: { time: true, range: () => [(times[0] ?? 0) - half, (times.at(-1) ?? 0) + half] },
        y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 0)] },
      },
      legend: { show: true },
    },
    // A band of nothing is not drawn (a zero-high bar would still show its outline).
    [times, ...order.map((k) => running[k]!.map((sum) => (sum === 0 ? null : sum)))],
    container,
  );
  const rows = usage.buckets.filter((bucket) =>
    API_KEY_OUTCOMES.some((outcome) => bucket.counts[outcome] > 0),
  );
  container.appendChild(
    table(
      'Verifications per bucket',
      [
        { header: 'From', cell: (bucket) => formatDate(bucket.start) },
        ...API_KEY_OUTCOMES.map((outcome) => ({
          header: OUTCOMES[outcome].label,
          cell: (bucket: (typeof rows)[number]) => String(bucket.counts[outcome]),
        })),
      ],
      rows,
    ),
  );
  return plot;
}

function period(ms: number): string {
  if (ms === 1_000) return 'second';
  if (ms === 60_000) return 'minute';
  if (ms === 3_600_000) return 'hour';
  if (ms === 86_400_000) return 'day';
  return `${ms} ms`;
}
