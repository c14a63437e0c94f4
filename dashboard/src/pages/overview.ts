import { client, describeError, holdsPlatformRole, type Me } from '../api';
import { formatNumber, h, table } from '../dom';
import {
  chosenRange,
  ERRORS_CHART,
  historyCharts,
  LATENCY_CHART,
  REQUESTS_CHART,
  rangePicker,
  rememberInUrl,
} from './history-chart';
import { status } from './refresher';

const POLL_MS = 2_000;

function stat(label: string, id: string): [HTMLElement, HTMLElement] {
  const value = h('dd', { id, 'data-testid': id }, '–');
  return [h('div', { class: 'stat' }, h('dt', {}, label), value), value];
}

/** The platform's health as its public report says it: pass, warn or fail. */
async function readHealth(): Promise<string> {
  const response = await fetch('/api/health', { headers: { accept: 'application/health+json' } });
  const report = (await response.json()) as { status: string };
  return report.status;
}

const ROLE_NAMES: Record<Me['role'], string> = { admin: 'Admin', operator: 'Operator', viewer: 'Viewer' };

/**
 * The platform's figures (component status, request rates, latency) are platform scope: users
 * without a platform role see its health and their own standing instead of refused calls.
 */
function renderOrganizationOverview(main: HTMLElement, me: Me): () => void {
  const [healthBox, healthValue] = stat('Health', 'stat-health');
  const [roleBox, roleValue] = stat('Your role', 'stat-role');
  roleValue.textContent = ROLE_NAMES[me.role];
  const message = h('p', { class: 'error', role: 'alert' });
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    message,
    h('dl', { class: 'stats' }, healthBox, roleBox),
    h(
      'p',
      { class: 'notice-muted', 'data-testid': 'platform-only' },
      'Component status, request rates and latency describe the whole platform: they are for platform operators only.',
    ),
  );
  let stopped = false;
  const tick = () =>
    readHealth().then(
      (health) => {
        if (stopped) return;
        message.textContent = '';
        healthValue.replaceChildren(status(health));
      },
      (error) => {
        if (!stopped) message.textContent = describeError(error);
      },
    );
  void tick();
  const timer = setInterval(tick, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}

export function renderOverview(main: HTMLElement, me: Me): () => void {
  if (!holdsPlatformRole(me, 'operator')) return renderOrganizationOverview(main, me);
  const [healthBox, healthValue] = stat('Health', 'stat-health');
  const [requestsBox, requestsValue] = stat('Requests', 'stat-requests');
  const [rateBox, rateValue] = stat('Requests/s (1 min)', 'stat-rate');
  const [p99Box, p99Value] = stat('p99 latency (ms)', 'stat-p99');
  const [errorBox, errorValue] = stat('5xx rate (5 min)', 'stat-errors');
  const components = h('div', { class: 'components' });
  const message = h('p', { class: 'error', role: 'alert' });
  let range = chosenRange();
  const chartBoxes = [h('figure'), h('figure'), h('figure')];
  const chartNote = h('p', { class: 'notice-muted' });
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    message,
    h('dl', { class: 'stats' }, healthBox, requestsBox, rateBox, p99Box, errorBox),
    h(
      'div',
      { class: 'charts-head' },
      h('h2', {}, 'Traffic of every instance'),
      rangePicker(range, (picked) => {
        range = picked;
        rememberInUrl('overview', { range });
        void charts.reload();
      }),
    ),
    chartNote,
    h(
      'section',
      { class: 'charts', 'aria-label': 'Charts of the stored history, one point a minute' },
      ...chartBoxes,
    ),
    h('h2', {}, 'Components'),
    components,
  );
  chartNote.textContent =
    'One point a minute, every instance summed, kept 24 hours; the last point is the minute still running. Dashed markers are annotations (hover for the text).';
  const charts = historyCharts(
    chartBoxes,
    [REQUESTS_CHART, ERRORS_CHART, LATENCY_CHART],
    () => client.performance.history.query({ range }),
    (error) => {
      message.textContent = describeError(error);
    },
  );

  let stopped = false;
  const tick = async () => {
    try {
      const [health, system, performance] = await Promise.all([
        readHealth(),
        client.system.status.query(),
        client.performance.overview.query(),
      ]);
      if (stopped) return;
      message.textContent = '';
      const routes = performance.routes;
      healthValue.replaceChildren(status(health));
      requestsValue.textContent = String(routes.requests);
      rateValue.textContent = formatNumber(routes.rate1m);
      p99Value.textContent = formatNumber(routes.p99Ms);
      errorValue.textContent = `${formatNumber(routes.errorRate5m * 100)} %`;
      components.replaceChildren(
        table(
          'Components and their status',
          [
            { header: 'Component', cell: (c) => c.name },
            { header: 'Status', cell: (c) => status(c.status) },
            { header: 'Critical', cell: (c) => (c.critical ? 'yes' : 'no') },
            { header: 'Last error', cell: (c) => c.lastError ?? '' },
          ],
          system.components,
        ),
      );
    } catch (error) {
      if (!stopped) message.textContent = describeError(error);
    }
  };
  void tick();
  const timer = setInterval(tick, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
    charts.stop();
  };
}
