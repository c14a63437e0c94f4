import type { AlertRuleDefinition } from '../../../db/repositories/alert-rules';

/**
 * The platform-wide rules every deployment gets, synchronised into alert_rules at start
 * (ALERT_DEFAULT_RULES=false removes them). The same alerts, in PromQL, ship as
 * deploy/prometheus/platform-alerts.rules.yml for a Prometheus that scrapes every instance; a
 * test keeps the two lists of names, severities and durations identical.
 *
 * Here each rule sees the metrics of the instance that evaluates, summed over their series.
 */
export const DEFAULT_ALERT_RULES: readonly AlertRuleDefinition[] = [
  {
    name: 'PlatformHighErrorRate',
    expression:
      'rate(http_server_request_duration_seconds_count{status_code=~"5.."}[5m]) / rate(http_server_request_duration_seconds_count[5m])',
    comparator: '>',
    threshold: 0.05,
    for_seconds: 300,
    severity: 'critical',
    labels: {},
    annotations: {
      summary: 'More than 5% of HTTP requests fail with a 5xx status',
      description: 'The share of 5xx responses over the last 5 minutes has stayed above 5% for 5 minutes.',
    },
    enabled: true,
  },
  {
    name: 'PlatformHighLatencyP99',
    expression: 'histogram_quantile(0.99, rate(http_server_request_duration_seconds_bucket[5m]))',
    comparator: '>',
    threshold: 1,
    for_seconds: 600,
    severity: 'warning',
    labels: {},
    annotations: {
      summary: 'HTTP p99 latency is above 1 second',
      description:
        'The 99th percentile of HTTP request durations over 5 minutes has stayed above 1 s for 10 minutes.',
    },
    enabled: true,
  },
  {
    name: 'PlatformDatabaseDown',
    expression: 'db_up',
    comparator: '==',
    threshold: 0,
    for_seconds: 60,
    severity: 'critical',
    labels: {},
    annotations: {
      summary: 'The database does not answer',
      description:
        'The last query or health check failed and the database has stayed unreachable for 1 minute.',
    },
    enabled: true,
  },
  {
    name: 'PlatformDatabasePoolWaiting',
    expression: 'db_client_connections{state="waiting"}',
    comparator: '>',
    threshold: 0,
    for_seconds: 60,
    severity: 'warning',
    labels: {},
    annotations: {
      summary: 'Requests are queueing for a database connection',
      description:
        'Callers have been waiting for a pool connection for 1 minute: the pool is too small or held.',
    },
    enabled: true,
  },
  {
    name: 'BackupWalShippingStalled',
    expression: 'backup_wal_oldest_pending_seconds',
    comparator: '>',
    threshold: 600,
    for_seconds: 300,
    severity: 'critical',
    labels: {},
    annotations: {
      summary: 'WAL is not reaching the backup store',
      description:
        'A WAL file has waited over 10 minutes in the spool for 5 minutes: point-in-time recovery would lose that much if the machine were lost now.',
    },
    enabled: true,
  },
  {
    name: 'PlatformEventLoopLag',
    expression: 'runtime_event_loop_lag_seconds',
    comparator: '>',
    threshold: 0.2,
    for_seconds: 60,
    severity: 'warning',
    labels: {},
    annotations: {
      summary: 'The event loop lags by more than 200 ms',
      description:
        'Timers have fired over 200 ms late for 1 minute: CPU-bound work is blocking every request.',
    },
    enabled: true,
  },
  {
    name: 'PlatformComponentFailed',
    expression: 'platform_component_status{status="failed"}',
    comparator: '>',
    threshold: 0,
    for_seconds: 60,
    severity: 'critical',
    labels: {},
    annotations: {
      summary: 'A critical platform component has failed',
      description: 'A critical component has been failed for 1 minute; the instance is not ready.',
    },
    enabled: true,
  },
  {
    name: 'PlatformRateLimitStoreErrors',
    expression: 'rate(rate_limit_decisions_total{decision="store_error"}[5m])',
    comparator: '>',
    threshold: 0,
    for_seconds: 60,
    severity: 'warning',
    labels: {},
    annotations: {
      summary: 'The rate-limit store is failing',
      description:
        'Rate-limit decisions have failed on the store for 1 minute; limits fail open or closed by policy.',
    },
    enabled: true,
  },
];
