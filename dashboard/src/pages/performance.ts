import type { AnalyticsKind, AnalyticsSeriesSnapshot } from '../../../shared/performance';
import { client, describeError } from '../api';
import { button, formatDate, formatNumber, h, table } from '../dom';
import {
  chosenRange,
  ERRORS_CHART,
  historyCharts,
  LATENCY_CHART,
  rangePicker,
  rememberInUrl,
} from './history-chart';
import { renderCacheSection } from './performance-cache';
import { renderCapacitySection } from './performance-capacity';
import { refresher, status } from './refresher';

/** The route or procedure charted: from the URL (`#/performance?procedure=system.info`), else every route. */
interface Selection {
  kind: AnalyticsKind;
  name: string;
}

function selectionInUrl(): Selection | null {
  const query = new URLSearchParams(window.location.hash.split('?')[1] ?? '');
  const procedure = query.get('procedure');
  if (procedure) return { kind: 'procedure', name: procedure };
  const route = query.get('route');
  return route ? { kind: 'route', name: route } : null;
}

function percentOf(part: number, whole: number): string {
  return whole > 0 ? `${part} (${formatNumber((part / whole) * 100, 1)} %)` : '0';
}

/**
 * Charts of the selected series' history: latency percentiles, and requests with 4xx and 5xx.
 * Returns the section, a way to change the selection, and the stopper.
 */
function renderHistorySection(section: HTMLElement): { select: (s: Selection) => void; stop: () => void } {
  let range = chosenRange();
  let selected = selectionInUrl();
  const title = h('h2', { id: 'history-title', 'data-testid': 'history-title' });
  const message = h('p', { class: 'error', role: 'alert' });
  const boxes = [h('figure'), h('figure')];
  const showTitle = () => {
    title.textContent = selected
      ? `History of ${selected.kind === 'procedure' ? 'procedure' : 'route'} ${selected.name}`
      : 'History of every route';
  };
  showTitle();
  section.setAttribute('aria-labelledby', 'history-title');
  section.replaceChildren(
    h(
      'div',
      { class: 'charts-head' },
      title,
      rangePicker(range, (picked) => {
        range = picked;
        rememberInUrl('performance', { range });
        void charts.reload();
      }),
    ),
    h(
      'p',
      { class: 'notice-muted' },
      'Pick a route or procedure in the table below to chart it. One point a minute, every instance summed.',
    ),
    message,
    h('div', { class: 'charts' }, ...boxes),
  );
  const charts = historyCharts(
    boxes,
    [LATENCY_CHART, ERRORS_CHART],
    () => {
      message.textContent = '';
      const series = selected ? { [selected.kind]: selected.name } : {};
      return client.performance.history.query({ range, ...series });
    },
    (error) => {
      message.textContent = describeError(error);
    },
  );
  return {
    select: (next) => {
      selected = next;
      rememberInUrl('performance', {
        route: next.kind === 'route' ? next.name : null,
        procedure: next.kind === 'procedure' ? next.name : null,
      });
      showTitle();
      void charts.reload();
      section.scrollIntoView({ block: 'start' });
    },
    stop: charts.stop,
  };
}

export function renderPerformance(main: HTMLElement): () => void {
  const history = h('section');
  const routes = h('section', { 'aria-label': 'Routes and procedures' });
  const queries = h('section', { 'aria-label': 'Queries' });
  const bottlenecks = h('section', { 'aria-label': 'Bottlenecks' });
  const cache = h('section');
  const capacity = h('section');
  main.replaceChildren(h('h1', {}, 'Performance'), history, routes, queries, bottlenecks, cache, capacity);
  const charts = renderHistorySection(history);
  const chartButton = (s: AnalyticsSeriesSnapshot) =>
    button(s.name, () => charts.select({ kind: s.kind, name: s.name }), {
      class: 'link-button',
      'aria-label': `Chart ${s.kind} ${s.name}`,
      'data-series': `${s.kind}:${s.name}`,
    });
  const stops = [
    { stop: charts.stop },
    { stop: renderCacheSection(cache) },
    { stop: renderCapacitySection(capacity) },
    refresher(
      routes,
      () => client.performance.routes.query({ sort: 'requests', order: 'desc', limit: 100 }),
      (data) =>
        table(
          'Routes and procedures by requests (latency in ms over the last minutes; pick a name to chart it)',
          [
            { header: 'Kind', cell: (s) => s.kind },
            { header: 'Name', cell: (s) => h('code', {}, chartButton(s)) },
            { header: 'Requests', cell: (s) => s.requests },
            { header: 'Req/s', cell: (s) => formatNumber(s.rate1m) },
            { header: 'p50', cell: (s) => formatNumber(s.p50Ms) },
            { header: 'p90', cell: (s) => formatNumber(s.p90Ms) },
            { header: 'p99', cell: (s) => formatNumber(s.p99Ms) },
            { header: '4xx', cell: (s) => percentOf(s.clientErrors, s.requests) },
            { header: '5xx', cell: (s) => percentOf(s.errors, s.requests) },
          ],
          data.series,
        ),
      5_000,
    ),
    refresher(
      queries,
      () => client.performance.queries.query({}),
      (data) =>
        h(
          'div',
          {},
          table(
            `Slow queries (over ${data.slowQueryMs} ms)`,
            [
              { header: 'When', cell: (q) => formatDate(q.at) },
              { header: 'Duration (ms)', cell: (q) => formatNumber(q.durationMs) },
              { header: 'Query', cell: (q) => h('code', {}, q.text) },
            ],
            data.slow ?? [],
          ),
          table(
            'Query shapes by total time',
            [
              { header: 'Operation', cell: (q) => q.operation },
              { header: 'Calls', cell: (q) => q.count },
              { header: 'Mean (ms)', cell: (q) => formatNumber(q.meanMs) },
              { header: 'p95 (ms)', cell: (q) => formatNumber(q.p95Ms) },
              { header: 'Query', cell: (q) => h('code', {}, q.text) },
            ],
            data.shapes.slice(0, 20),
          ),
        ),
      10_000,
    ),
    refresher(
      bottlenecks,
      () => client.performance.bottlenecks.query(),
      (data) =>
        table(
          'Bottlenecks found',
          [
            { header: 'Severity', cell: (f) => status(String(f.severity)) },
            { header: 'Subject', cell: (f) => f.subject },
            { header: 'Summary', cell: (f) => f.summary },
            { header: 'Recommendation', cell: (f) => f.recommendation },
          ],
          data.findings,
        ),
      10_000,
    ),
  ];
  return () => {
    for (const { stop } of stops) stop();
  };
}
