import { z } from 'zod';
import {
  alertHistoryPage,
  alertRule,
  alertWebhook,
  createdAlertWebhook,
  deletedAlertResource,
} from '../../../../shared/alerts';
import {
  analyticsSeries,
  performanceBottlenecks,
  performanceCapacity,
  performanceOverview,
  performanceRoutes as performanceRoutesOutput,
} from '../../../../shared/performance';
import { cacheInvalidated, cacheStats, cacheWarmResults } from '../../../../shared/performance-cache';
import { performanceHistory } from '../../../../shared/performance-history';
import { performanceQueries, queryPlan } from '../../../../shared/performance-queries';
import { restRoutes } from '../route';

const FIGURES =
  'Counts are since this instance started; `rate1m`/`rate5m`/`rate15m` are requests per second over ' +
  'the last 1, 5 and 15 minutes; the flat percentiles (`p50Ms`…`maxMs`, milliseconds) cover the ' +
  'latency window (the last five to six minutes) and are null when no request fell in it; ' +
  '`allTime` covers the uptime. Figures are this instance’s, not the fleet’s.';

/** REST routes of `performance.*` (docs/api.md, "REST"). */
export const performanceRoutes = restRoutes({
  'performance.overview': {
    method: 'GET',
    path: '/performance/overview',
    summary: 'Traffic totals of routes and of procedures, and the busiest, slowest and most failing ones',
    description: `Routes and procedures are totalled apart: every tRPC call is also a request to \`/api/trpc/*\`. ${FIGURES}`,
    output: performanceOverview,
  },
  'performance.routes': {
    method: 'GET',
    path: '/performance/routes',
    summary: 'Route templates and procedures with their traffic figures, filtered and sorted',
    description: `\`total\` counts the series matching \`kind\`, \`filter\` and \`minRequests\` before \`limit\`. ${FIGURES}`,
    output: performanceRoutesOutput,
  },
  'performance.procedure': {
    method: 'GET',
    path: '/performance/procedures/{path}',
    summary: 'One procedure’s traffic figures, by its tRPC path (e.g. `system.info`)',
    description: `404 when the procedure has not been called since the instance started. ${FIGURES}`,
    output: analyticsSeries,
  },
  'performance.history': {
    method: 'GET',
    path: '/performance/history',
    summary: 'Requests, 4xx, 5xx and latency percentiles per minute over the last 15 min, 1 h, 6 h or 24 h',
    description:
      'Every route together, or one route template (`route`) or procedure path (`procedure`). Minutes of ' +
      'every instance are summed (latency percentiles from the merged histograms); rates are per second; ' +
      'a minute without requests has null rates and percentiles. The last point is the minute still ' +
      'running (`partial`). Minutes are kept for 24 hours.',
    output: performanceHistory,
  },
  'performance.queries': {
    method: 'GET',
    path: '/performance/queries',
    summary: 'SQL query shapes ranked by time, the slow-query log and PostgreSQL’s pg_stat_statements',
    description:
      'A shape is a statement with its values normalised away, named by `fingerprint` (pass it to the ' +
      'explain route). Durations in milliseconds, since this instance started. `pgStatStatements` ' +
      'says why it is unavailable when the database server lacks the extension.',
    output: performanceQueries,
  },
  'performance.explain': {
    method: 'GET',
    path: '/performance/queries/{fingerprint}/explain',
    summary: 'PostgreSQL’s generic plan of a query shape (EXPLAIN without ANALYZE: nothing is run)',
    description:
      '`plan` is PostgreSQL’s EXPLAIN (FORMAT JSON) output. 404 for a shape this instance has not run; ' +
      '400 for a statement that has no plan (DDL, SET…) or that PostgreSQL cannot plan; 504 when planning ' +
      'takes over 2 s.',
    output: queryPlan,
    refusals: ['GATEWAY_TIMEOUT'],
  },
  'performance.cache.stats': {
    method: 'GET',
    path: '/performance/cache',
    summary: 'This instance’s cache figures, other caches’ by name, warmers and invalidation traffic',
    output: cacheStats,
  },
  'performance.cache.warm': {
    method: 'POST',
    path: '/performance/cache/warm',
    summary: 'Run the named cache warmers (all when none are named) on this instance',
    description:
      'A warmer that fails, or a name no warmer has, is a result with an `error`, not a failed call.',
    output: cacheWarmResults,
  },
  'performance.cache.invalidate': {
    method: 'POST',
    path: '/performance/cache/invalidate',
    summary: 'Forget a cache key, a tag or everything, here and on every other instance',
    description:
      'Give exactly one of `key`, `tag` or `all: true`. `removed` counts the entries this instance dropped.',
    output: cacheInvalidated,
  },
  'performance.bottlenecks': {
    method: 'GET',
    path: '/performance/bottlenecks',
    summary: 'Bottlenecks found in the live figures, most severe first, with what to do',
    description: 'Each rule needs enough data before it speaks: an idle instance reports no findings.',
    output: performanceBottlenecks,
  },
  'performance.capacity': {
    method: 'GET',
    path: '/performance/capacity',
    summary: 'Throughput, cost per request, utilisation and headroom before the first resource saturates',
    description:
      'Utilisations are shares from 0 to 1. `headroom` is how many times today’s throughput fits before ' +
      '`bottleneck` saturates. Figures that need two resource samples or some traffic are null until then; ' +
      '`notes` says why. Saturation, bottleneck, headroom and the estimated maximum need ' +
      '`minimumRequestsToEstimate` requests in the window: below it they are null and `estimateReason` ' +
      'is `not enough traffic to estimate`.',
    output: performanceCapacity,
  },
  'performance.alerts.list': {
    method: 'GET',
    path: '/performance/alert-rules',
    summary: 'Alert rules with their current state: the platform-wide ones and your organization’s',
    description:
      'Platform-wide rules (`scope: platform`) are the platform’s defaults and read-only. `status` is ' +
      'null until a rule was first evaluated.',
    output: z.array(alertRule),
  },
  'performance.alerts.create': {
    method: 'POST',
    path: '/performance/alert-rules',
    summary: 'Create an alert rule for your organization',
    description: 'The expression is checked when the rule is saved: a mistake answers 400 with its position.',
    output: alertRule,
    status: 201,
  },
  'performance.alerts.update': {
    method: 'PATCH',
    path: '/performance/alert-rules/{id}',
    summary: 'Change an alert rule of your organization (only the fields given)',
    description:
      'Disabling, renaming or relabelling a rule ends its current alert. Platform-wide rules answer 403.',
    output: alertRule,
  },
  'performance.alerts.delete': {
    method: 'DELETE',
    path: '/performance/alert-rules/{id}',
    summary: 'Delete an alert rule of your organization; a firing alert is resolved first',
    output: deletedAlertResource,
  },
  'performance.alerts.history': {
    method: 'GET',
    path: '/performance/alerts/history',
    summary: 'State changes of your alerts, newest first, optionally of one rule',
    description:
      'Paged: pass `limit` (1–100), and `cursor` set to the previous page’s `nextCursor`; the answer is ' +
      '`{ items, nextCursor }`, `nextCursor` null on the last page.',
    output: alertHistoryPage,
  },
  'performance.alerts.webhooks.create': {
    method: 'POST',
    path: '/performance/alert-webhooks',
    summary: 'Add a webhook that receives your organization’s alert notifications',
    description:
      'The answer holds the signing `secret`, shown this once. A URL on an internal address is refused (400).',
    output: createdAlertWebhook,
    status: 201,
  },
  'performance.alerts.webhooks.list': {
    method: 'GET',
    path: '/performance/alert-webhooks',
    summary: 'Your organization’s alert webhooks (without their secrets)',
    output: z.array(alertWebhook),
  },
  'performance.alerts.webhooks.delete': {
    method: 'DELETE',
    path: '/performance/alert-webhooks/{id}',
    summary: 'Delete an alert webhook and the notifications still queued for it',
    output: deletedAlertResource,
  },
});
