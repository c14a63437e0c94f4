import client, { type Histogram, type Metric, type Registry } from 'prom-client';
import type { PoolStats } from '../../../db/connect';
import type { ComponentState } from '../../../shared/system';
import type { BuildInfo } from '../build-info';
import { PairCounter } from './fast-counter';
import { FastHistogram } from './fast-histogram';

/**
 * OpenTelemetry's advisory buckets for `http.server.request.duration`, in seconds, so our
 * histograms line up with what OTel-instrumented services export.
 */
export const OTEL_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];

const COMPONENT_STATUSES = ['pending', 'initializing', 'ready', 'degraded', 'failed'] as const;

export interface MetricsOptions {
  build: BuildInfo;
  /** Process, heap and event-loop metrics from prom-client (Node APIs; feature-detected on Bun). */
  defaultMetrics: boolean;
}

/**
 * Every metric the platform exports, in a registry of its own (never prom-client's global one),
 * so each app built by `createApp` — and each test — counts only its own traffic.
 */
export function createMetrics({ build, defaultMetrics }: MetricsOptions) {
  const registry: Registry = new client.Registry();

  // The two request-path histograms are FastHistograms: see fast-histogram.ts for why.
  const httpDuration = new FastHistogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP requests, by route template (never the raw path), method and status.',
    labelNames: ['method', 'route', 'status_code'],
    buckets: OTEL_DURATION_BUCKETS,
  });
  const trpcDuration = new FastHistogram({
    name: 'trpc_procedure_duration_seconds',
    help: 'Duration of tRPC procedure calls, by procedure path, type and result code.',
    labelNames: ['procedure', 'type', 'code'],
    buckets: OTEL_DURATION_BUCKETS,
  });
  registry.registerMetric(httpDuration as unknown as Metric);
  registry.registerMetric(trpcDuration as unknown as Metric);
  registry.registerMetric(
    trpcDuration.countsAsCounter(
      'trpc_procedure_calls_total',
      'tRPC procedure calls, by procedure path, type and result code (OK or a tRPC error code).',
    ) as unknown as Metric,
  );
  function registered<M extends { name: string }>(metric: M): M {
    registry.registerMetric(metric as unknown as Metric);
    return metric;
  }
  const queryDuration: Histogram<'operation' | 'result'> = new client.Histogram({
    name: 'db_client_operation_duration_seconds',
    help: 'Duration of database statements, by SQL operation and result.',
    labelNames: ['operation', 'result'],
    buckets: [0.001, 0.0025, ...OTEL_DURATION_BUCKETS],
    registers: [registry],
  });

  new client.Gauge({
    name: 'platform_build_info',
    help: 'Build and runtime of this instance; always 1.',
    labelNames: ['version', 'commit', 'runtime', 'runtime_version'],
    registers: [registry],
  }).set(
    {
      version: build.version,
      commit: build.commit,
      runtime: build.runtime,
      runtime_version: build.runtimeVersion,
    },
    1,
  );

  if (defaultMetrics) {
    try {
      client.collectDefaultMetrics({ register: registry });
    } catch {
      // Some runtimes lack parts of Node's perf_hooks; our own runtime metrics below still work.
    }
  }

  const auth = {
    /** Security events (login, refresh, logout, key and user changes) by type and result. */
    events: new client.Counter({
      name: 'auth_events_total',
      help: 'Authentication and account events, by type and result (success or failure).',
      labelNames: ['type', 'result'],
      registers: [registry],
    }),
    /** API-key verifications by outcome code (VALID, NOT_FOUND, EXPIRED, ...). */
    keyVerifications: new client.Counter({
      name: 'auth_api_key_verifications_total',
      help: 'API-key verifications, by outcome code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    /** Rejected access tokens by reason (never shown to callers, who all get the same 401). */
    rejectedTokens: new client.Counter({
      name: 'auth_access_tokens_rejected_total',
      help: 'Access tokens refused, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    }),
    /**
     * Rate-limit decisions by policy and decision (allowed, limited, store_error). Counted on every
     * anonymous tRPC request, so a PairCounter rather than prom-client's (see fast-counter.ts).
     */
    rateLimitDecisions: registered(
      new PairCounter({
        name: 'rate_limit_decisions_total',
        help: 'Rate-limit decisions, by policy and decision (allowed, limited, store_error).',
        labelNames: ['policy', 'decision'],
      }),
    ),
  };

  const logs = {
    /** Access lines the access log's bounded buffer had no room for (runtime/access-log.ts). */
    accessLinesDropped: new client.Counter({
      name: 'log_access_lines_dropped_total',
      help: 'Access-log lines dropped because the log buffer was full while the log destination was not taking writes.',
      registers: [registry],
    }),
  };

  return {
    registry,
    auth,
    logs,
    http: { duration: httpDuration },
    trpc: { duration: trpcDuration },
    db: { queryDuration },

    /** Requests being served, read at scrape time from the count graceful shutdown keeps anyway. */
    bindInFlight(active: () => number): void {
      new client.Gauge({
        name: 'http_server_active_requests',
        help: 'HTTP requests being served now.',
        registers: [registry],
        collect() {
          this.set(active());
        },
      });
    },

    /** Pool gauges and counters, read from the pool at scrape time. */
    bindPool(stats: () => PoolStats): void {
      const gauge = (name: string, help: string, pick: (s: PoolStats) => number) =>
        new client.Gauge({
          name,
          help,
          registers: [registry],
          collect() {
            this.set(pick(stats()));
          },
        });
      const counter = (name: string, help: string, pick: (s: PoolStats) => number) =>
        new client.Counter({
          name,
          help,
          registers: [registry],
          collect() {
            this.reset();
            this.inc(pick(stats()));
          },
        });
      new client.Gauge({
        name: 'db_client_connections',
        help: 'Pool connections by state (idle, used) and callers waiting for one (waiting).',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const s = stats();
          this.set({ state: 'idle' }, s.idle);
          this.set({ state: 'used' }, s.total - s.idle);
          this.set({ state: 'waiting' }, s.waiting);
        },
      });
      gauge('db_client_connections_max', 'Most connections the pool may open.', (s) => s.max);
      gauge('db_up', 'Whether the database answered the last query or health check (1) or not (0).', (s) =>
        s.healthy ? 1 : 0,
      );
      counter(
        'db_client_connection_acquires_total',
        'Connections handed out by the pool.',
        (s) => s.acquired,
      );
      counter('db_client_connections_opened_total', 'Connections opened to the server.', (s) => s.connects);
      counter('db_client_connection_errors_total', 'Connection-level failures.', (s) => s.errors);
      counter('db_client_reconnects_total', 'Connections opened again after a failure.', (s) => s.reconnects);
    },

    /** One series per component and status, 1 for the status it is in (a Prometheus state set). */
    bindComponents(states: () => ComponentState[]): void {
      new client.Gauge({
        name: 'platform_component_status',
        help: 'Status of each platform component: 1 for its current status, 0 for the others.',
        labelNames: ['component', 'status'],
        registers: [registry],
        collect() {
          for (const component of states()) {
            for (const status of COMPONENT_STATUSES) {
              this.set({ component: component.name, status }, component.status === status ? 1 : 0);
            }
          }
        },
      });
    },

    /** Event-loop lag measured by timer drift: works on every runtime, unlike perf_hooks' histogram. */
    bindEventLoopLag(lagSeconds: () => number): void {
      new client.Gauge({
        name: 'runtime_event_loop_lag_seconds',
        help: 'How late a 100 ms timer fired most recently: a runtime-independent event-loop lag.',
        registers: [registry],
        collect() {
          this.set(lagSeconds());
        },
      });
    },

    /** Counts and times one database statement; its operation is the first SQL keyword. */
    observeQuery(sqlText: string, durationMs: number, failed: boolean): void {
      queryDuration.observe(
        { operation: sqlOperation(sqlText), result: failed ? 'error' : 'ok' },
        durationMs / 1000,
      );
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The key of an `http_server_request_duration_seconds` series: the middleware and the probes
 * must name the same series the same way.
 */
export function httpSeriesKey(method: string, status: number, route: string): string {
  return `${method} ${status} ${route}`;
}

const OPERATIONS = new Set(['select', 'insert', 'update', 'delete', 'begin', 'commit', 'rollback', 'with']);

/** The statement's leading keyword, from a closed set so that labels stay bounded. */
export function sqlOperation(sqlText: string): string {
  const word = /^\s*([a-zA-Z]+)/.exec(sqlText)?.[1]?.toLowerCase() ?? 'other';
  return OPERATIONS.has(word) ? word : 'other';
}
