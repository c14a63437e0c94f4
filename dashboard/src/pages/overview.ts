import uPlot from 'uplot';
import { client, describeError, holdsPlatformRole, type Me } from '../api';
import { formatNumber, h, table } from '../dom';
import { status } from './refresher';

const POLL_MS = 2_000;
/** Ten minutes of points at one every two seconds. */
const MAX_POINTS = 300;

interface Chart {
  plot: uPlot;
  data: [number[], number[]];
}

function chart(container: HTMLElement, label: string, unit: string, color: string): Chart {
  const data: [number[], number[]] = [[], []];
  const width = Math.max(260, container.clientWidth || 320);
  const plot = new uPlot(
    {
      width,
      height: 180,
      series: [{}, { label: `${label} (${unit})`, stroke: color, width: 2 }],
      axes: [{}, { size: 60 }],
      legend: { show: true },
    },
    data,
    container,
  );
  return { plot, data };
}

function push(target: Chart, at: number, value: number | null): void {
  target.data[0].push(at);
  target.data[1].push(value ?? 0);
  if (target.data[0].length > MAX_POINTS) {
    target.data[0].shift();
    target.data[1].shift();
  }
  target.plot.setData(target.data);
}

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
  const [errorBox, errorValue] = stat('Error rate (5 min)', 'stat-errors');
  const components = h('div', { class: 'components' });
  const message = h('p', { class: 'error', role: 'alert' });
  const rateChart = h('figure', { class: 'chart', 'aria-label': 'Requests per second over time' });
  const latencyChart = h('figure', { class: 'chart', 'aria-label': 'p99 latency over time' });
  const errorChart = h('figure', { class: 'chart', 'aria-label': 'Error rate over time' });
  main.replaceChildren(
    h('h1', {}, 'Overview'),
    message,
    h('dl', { class: 'stats' }, healthBox, requestsBox, rateBox, p99Box, errorBox),
    h(
      'section',
      { class: 'charts', 'aria-label': 'Charts, updated every 2 seconds' },
      rateChart,
      latencyChart,
      errorChart,
    ),
    h('h2', {}, 'Components'),
    components,
  );
  const charts = {
    rate: chart(rateChart, 'Requests/s', 'req/s', '#2563eb'),
    p99: chart(latencyChart, 'p99', 'ms', '#d97706'),
    errors: chart(errorChart, 'Errors', '%', '#dc2626'),
  };

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
      const at = Date.now() / 1000;
      push(charts.rate, at, routes.rate1m);
      push(charts.p99, at, routes.p99Ms);
      push(charts.errors, at, routes.errorRate5m * 100);
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
  const resize = () => {
    for (const [box, target] of [
      [rateChart, charts.rate],
      [latencyChart, charts.p99],
      [errorChart, charts.errors],
    ] as const) {
      target.plot.setSize({ width: Math.max(260, box.clientWidth), height: 180 });
    }
  };
  window.addEventListener('resize', resize);
  requestAnimationFrame(resize);
  return () => {
    stopped = true;
    clearInterval(timer);
    window.removeEventListener('resize', resize);
    for (const target of Object.values(charts)) target.plot.destroy();
  };
}
