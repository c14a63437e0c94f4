import { client } from '../api';
import { formatDate, formatNumber, h, table } from '../dom';
import { renderCacheSection } from './performance-cache';
import { renderCapacitySection } from './performance-capacity';
import { refresher, status } from './refresher';

export function renderPerformance(main: HTMLElement): () => void {
  const routes = h('section', { 'aria-label': 'Routes and procedures' });
  const queries = h('section', { 'aria-label': 'Queries' });
  const bottlenecks = h('section', { 'aria-label': 'Bottlenecks' });
  const cache = h('section');
  const capacity = h('section');
  main.replaceChildren(h('h1', {}, 'Performance'), routes, queries, bottlenecks, cache, capacity);
  const stops = [
    { stop: renderCacheSection(cache) },
    { stop: renderCapacitySection(capacity) },
    refresher(
      routes,
      () => client.performance.routes.query({ sort: 'requests', order: 'desc', limit: 100 }),
      (data) =>
        table(
          'Routes and procedures by requests (latency in ms over the last minutes)',
          [
            { header: 'Kind', cell: (s) => s.kind },
            { header: 'Name', cell: (s) => h('code', {}, s.name) },
            { header: 'Requests', cell: (s) => s.requests },
            { header: 'Req/s', cell: (s) => formatNumber(s.rate1m) },
            { header: 'p50', cell: (s) => formatNumber(s.p50Ms) },
            { header: 'p90', cell: (s) => formatNumber(s.p90Ms) },
            { header: 'p99', cell: (s) => formatNumber(s.p99Ms) },
            { header: 'Errors', cell: (s) => `${formatNumber(s.errorRate * 100)} %` },
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
