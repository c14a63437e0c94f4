import { PlatformDatabase, type QueryEvent } from '../../db/connect';
import { deploymentStatusFigures } from '../../db/repositories/deployments';
import type { BuildInfo } from '../base/build-info';
import type { Config } from '../base/config';
import { Initializer } from '../base/initializer';
import { Lifecycle } from '../base/lifecycle';
import type { Logger } from '../base/logger';
import { monitoringComponent } from '../base/metrics/component';
import { EventLoopMonitor } from '../base/metrics/event-loop';
import { createMetrics } from '../base/metrics/metrics';
import { createOutboundPolicy } from '../base/outbound/index';
import { rateLimitComponent } from '../base/rate-limit/component';
import { createRateLimitStore } from '../base/rate-limit/create-store';
import { RateLimiter } from '../base/rate-limit/limiter';
import { rateLimitPolicies } from '../base/rate-limit/policies';
import { createTracing } from '../base/tracing/tracing';
import { createAccessLog } from '../http/access-log';
import type { AppDeps } from '../http/deps';
import { bindPerformanceMetrics } from '../operations/prometheus';
import { alertsComponent } from '../services/alerts/component';
import { buildAlertServices } from '../services/alerts/services';
import { authComponent } from '../services/auth/component';
import { buildAuthServices } from '../services/auth/services';
import { backupsComponent } from '../services/backups/component';
import { bindBackupMetrics } from '../services/backups/metrics';
import { pointInTimeComponent } from '../services/backups/pitr/component';
import { bindPointInTimeMetrics } from '../services/backups/pitr/metrics';
import { BackupScheduler } from '../services/backups/scheduler';
import { BackupService } from '../services/backups/service';
import { Cache } from '../services/cache/cache';
import { cacheComponent } from '../services/cache/component';
import { databaseSettingsWarmer } from '../services/cache/database-settings';
import { DistributedInvalidation } from '../services/cache/distributed-invalidation';
import { WarmerRegistry } from '../services/cache/warmers';
import { databaseComponent } from '../services/database/component';
import { runAnalysis } from '../services/deployments/analysis';
import { deploymentsComponent } from '../services/deployments/component';
import { DeploymentEngine } from '../services/deployments/deployment-engine';
import { DeploymentService } from '../services/deployments/deployments';
import { metricSources } from '../services/deployments/metric-sources';
import { bindDeploymentMetrics } from '../services/deployments/metrics';
import { createProviderRegistry, defaultProviderFactories } from '../services/deployments/provider-registry';
import { EnvironmentService } from '../services/devops/environments';
import { MaintenanceMode } from '../services/devops/maintenance';
import { maintenanceComponent } from '../services/devops/maintenance-component';
import { RequestAnalytics } from '../services/performance/analytics';
import { performanceComponent } from '../services/performance/component';
import { MetricHistory } from '../services/performance/metric-history';
import { QueryMonitor } from '../services/performance/query-monitor';
import { querySpans } from '../services/performance/query-spans';
import { ResourceSampler } from '../services/performance/resource-sampler';
import { backupBucket, backupDirectory } from './backup-storage';
import { buildPointInTime } from './point-in-time';

export interface BuildDepsOptions {
  config: Config;
  logger: Logger;
  build: BuildInfo;
  /** The PostgreSQL to use: DATABASE_URL, or the embedded server's URL. */
  databaseUrl: string;
  /** The key-encryption key of the signing keys (AUTH_KEY_ENCRYPTION_KEY or DATA_DIR's). */
  kek: Uint8Array;
}

/**
 * Builds every dependency of the app and registers the components the initializer starts.
 * Nothing connects here: connections open when `deps.initializer.start()` runs.
 */
export function buildDependencies({ config, logger, build, databaseUrl, kek }: BuildDepsOptions): AppDeps {
  const metrics = createMetrics({ build, defaultMetrics: config.METRICS_DEFAULTS });
  const eventLoop = new EventLoopMonitor();
  const initializer = new Initializer({
    logger,
    retry: { baseMs: config.DB_RETRY_BASE_MS, maxMs: config.DB_RETRY_MAX_MS },
  });
  const analytics = new RequestAnalytics({ enabled: config.PERFORMANCE_ANALYTICS });
  const queries = new QueryMonitor({ slowQueryMs: config.PERFORMANCE_SLOW_QUERY_MS });
  const tracing = config.OTEL_EXPORTER_OTLP_ENDPOINT
    ? createTracing({
        endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
        sampler: config.OTEL_TRACES_SAMPLER,
        ratio: config.OTEL_TRACES_SAMPLER_ARG,
        serviceName: config.OTEL_SERVICE_NAME,
        serviceVersion: build.version,
      })
    : null;
  const observeQuery = (e: QueryEvent) => {
    metrics.observeQuery(e.sql, e.durationMs, e.error !== undefined);
    queries.record(e.sql, e.durationMs, e);
  };
  // Decided here once: without tracing, a query meets nothing of it.
  const querySpan = tracing ? querySpans(tracing.tracer) : null;
  const database = new PlatformDatabase({
    url: databaseUrl,
    poolMax: config.DB_POOL_MAX,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    namedStatements: config.DB_NAMED_STATEMENTS,
    idleTimeoutMs: config.DB_IDLE_TIMEOUT_MS,
    retry: {
      attempts: config.DB_CONNECT_ATTEMPTS,
      baseMs: config.DB_RETRY_BASE_MS,
      maxMs: config.DB_RETRY_MAX_MS,
    },
    onQuery: querySpan
      ? (e) => {
          observeQuery(e);
          querySpan(e);
        }
      : observeQuery,
    onHealthChange: (healthy, lastError) => {
      initializer.report('database', healthy ? 'ready' : 'degraded', lastError ?? undefined);
      if (healthy) logger.info('database reachable');
      else logger.warn({ lastError }, 'database unreachable');
    },
    // Message and code only: pg attaches its client (user, host, ports) to connection errors.
    onWarning: (message, error) => logger.warn({ error: errorSummary(error) }, message),
  });
  const cache = new Cache({
    maxEntries: config.CACHE_MAX_ENTRIES,
    maxBytes: config.CACHE_MAX_BYTES,
    defaultTtlMs: config.CACHE_DEFAULT_TTL_MS,
    onRefreshError: (_key, error) =>
      logger.warn({ err: error }, 'cache refresh failed; serving the stale value'),
    tracer: tracing?.tracer,
  });

  const rateLimits = createRateLimitStore(config, { db: database.db, logger });
  const rateLimiter = new RateLimiter({
    store: rateLimits.store,
    metrics,
    policies: rateLimitPolicies(config),
    logger,
  });
  const auth = buildAuthServices({
    config,
    logger,
    metrics,
    database,
    databaseUrl,
    kek,
    rateLimitStore: rateLimits.store,
  });

  if (tracing) initializer.register(tracing.component);
  initializer.register(databaseComponent(database, config, logger));
  const cacheInvalidation = new DistributedInvalidation({ cache, feed: auth.changes, database, logger });
  const cacheWarmers = new WarmerRegistry({ cache, timeoutMs: config.CACHE_WARM_TIMEOUT_MS });
  cacheWarmers.register(databaseSettingsWarmer(database));
  cache.registerStatsSource('apiKeys', () => auth.apiKeys.cacheStats());
  const sampler = new ResourceSampler(
    {
      requests: () => analytics.totalRequests(),
      queryMs: () => queries.totals().totalMs,
    },
    { intervalMs: 5_000, retain: 180 },
  );

  initializer.register(cacheComponent(cache, { warmers: cacheWarmers, logger }));
  initializer.register(authComponent(auth, rateLimiter, config, logger));
  initializer.register(rateLimitComponent(rateLimits, config));
  initializer.register(monitoringComponent(metrics, eventLoop));
  const history = new MetricHistory({ analytics, database, logger });
  initializer.register(performanceComponent({ sampler, history, queries, database, logger }));
  // Every request to a destination a user gave goes through this one policy (docs/outbound-requests.md).
  const outbound = createOutboundPolicy({
    allow: {
      alert_webhook: config.OUTBOUND_ALLOW_ALERT_WEBHOOK,
      deployment_webhook: config.OUTBOUND_ALLOW_DEPLOYMENT_WEBHOOK,
      kubernetes: config.OUTBOUND_ALLOW_KUBERNETES,
      metrics: config.OUTBOUND_ALLOW_METRICS,
    },
    privateNetworks: {
      alert_webhook: config.ALERT_WEBHOOK_ALLOW_PRIVATE,
      deployment_webhook: config.DEPLOY_ALLOW_PRIVATE_NETWORKS,
      kubernetes: config.DEPLOY_ALLOW_PRIVATE_NETWORKS,
    },
    dnsServers: config.OUTBOUND_DNS_SERVERS,
    tracing,
  });
  const alerts = buildAlertServices({
    database,
    registry: metrics.registry,
    kek,
    logger,
    evalIntervalMs: config.ALERT_EVAL_INTERVAL_MS,
    defaultRules: config.ALERT_DEFAULT_RULES,
    externalUrl: config.ALERT_EXTERNAL_URL,
    webhookTimeoutMs: config.ALERT_WEBHOOK_TIMEOUT_MS,
    webhookMaxAttempts: config.ALERT_WEBHOOK_MAX_ATTEMPTS,
    outbound,
  });
  initializer.register(alertsComponent(alerts, { database, logger }));
  const maintenance = new MaintenanceMode({ database, changes: auth.changes, audit: auth.audit });
  const environments = new EnvironmentService({ database, audit: auth.audit, kek });
  const providerFor = createProviderRegistry(defaultProviderFactories({ outbound }));
  const deployments = new DeploymentService({
    database,
    audit: auth.audit,
    providerFor,
    kek,
    environmentSecrets: async (organizationId, environment) =>
      (await environments.resolve({ organizationId }, environment)).secrets,
  });
  const engine = new DeploymentEngine({
    database,
    providerFor,
    kek,
    querierFor: metricSources({ prometheusUrl: config.DEPLOY_PROMETHEUS_URL, outbound }),
    runAnalysis,
    audit: auth.audit,
    logger,
    tracer: tracing?.tracer,
  });
  initializer.register(deploymentsComponent(engine, { database }));
  bindDeploymentMetrics(
    metrics.registry,
    {
      figures: () => database.read((db) => deploymentStatusFigures(db)),
      onError: (error) => logger.warn({ error: errorSummary(error) }, 'deployment figures unavailable'),
    },
    // Statuses change by the second while deployments run; one grouped query a second at most.
    { maxAgeMs: 1_000 },
  );
  const backups = new BackupService({
    database,
    databaseUrl,
    directory: backupDirectory(config),
    audit: auth.audit,
    logger,
    pgDump: config.BACKUP_PG_DUMP === 'off' ? null : config.BACKUP_PG_DUMP,
    inMaintenance: () => maintenance.current().enabled,
    restoreTargets: config.BACKUP_RESTORE_TARGETS,
    outboundPolicy: outbound,
    kek,
    s3: backupBucket(config),
  });
  const backupScheduler = new BackupScheduler({
    database,
    backups,
    schedules: backups.schedules,
    logger,
    intervalMs: config.BACKUP_SCHEDULER_INTERVAL_MS,
  });
  initializer.register(backupsComponent({ service: backups, scheduler: backupScheduler }, logger));
  bindBackupMetrics(metrics.registry, backups);
  const pointInTime = config.BACKUP_PITR
    ? buildPointInTime(config, { backups, database, databaseUrl, kek, audit: auth.audit, logger })
    : null;
  if (pointInTime) initializer.register(pointInTimeComponent(pointInTime));
  bindPointInTimeMetrics(metrics.registry, pointInTime);
  initializer.register(maintenanceComponent(maintenance));

  // Made here so that its dropped lines are counted; createApp's createAccessLog(logger) gets this one.
  createAccessLog(logger, { dropped: metrics.logs.accessLinesDropped });
  const lifecycle = new Lifecycle();
  metrics.bindInFlight(() => lifecycle.activeRequests());
  metrics.bindPool(() => database.stats());
  metrics.bindComponents(() => initializer.states());
  metrics.bindEventLoopLag(() => eventLoop.lagSeconds());

  const deps: AppDeps = {
    site: 'origin',
    config,
    logger,
    build,
    startedAt: new Date(),
    metrics,
    database,
    cache,
    cacheWarmers,
    cacheInvalidation,
    performance: { analytics, queries, history, sampler },
    alerts,
    maintenance,
    devops: { environments, deployments, engine, backups, pointInTime },
    initializer,
    lifecycle,
    auth,
    rateLimiter,
    eventLoopLag: () => eventLoop.lagSeconds(),
    tracing,
  };
  bindPerformanceMetrics(metrics.registry, deps);
  return deps;
}

/** What a log line may say about a driver error: its message and SQLSTATE or errno code. */
function errorSummary(error: unknown): { message: string; code: string | null } {
  if (!(error instanceof Error)) return { message: String(error), code: null };
  const code = (error as { code?: unknown }).code;
  return { message: error.message, code: typeof code === 'string' ? code : null };
}
