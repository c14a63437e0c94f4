import type { PlatformDatabase } from '../../db/connect';
import type { BuildInfo } from '../base/build-info';
import type { Config } from '../base/config';
import type { Initializer } from '../base/initializer';
import type { Lifecycle } from '../base/lifecycle';
import type { Logger } from '../base/logger';
import type { Metrics } from '../base/metrics/metrics';
import type { RateLimiter } from '../base/rate-limit/limiter';
import type { Tracing } from '../base/tracing/context';
import type { AlertServices } from '../services/alerts/services';
import type { AuthServices } from '../services/auth/services';
import type { PointInTimeRecovery } from '../services/backups/pitr/service';
import type { BackupService } from '../services/backups/service';
import type { Cache } from '../services/cache/cache';
import type { DistributedInvalidation } from '../services/cache/distributed-invalidation';
import type { WarmerRegistry } from '../services/cache/warmers';
import type { DeploymentEngine } from '../services/deployments/deployment-engine';
import type { DeploymentService } from '../services/deployments/deployments';
import type { EnvironmentService } from '../services/devops/environments';
import type { MaintenanceMode } from '../services/devops/maintenance';
import type { PerformanceServices } from '../services/performance/services';

/**
 * Where an app runs: the origin serves everything; the edge (a Workers isolate) serves the
 * probes, /metrics and the procedures built to run anywhere (server/http/trpc.ts).
 */
export type Site = 'origin' | 'edge';

/**
 * What every request needs wherever it runs: the request path (metrics, logs, rate limits,
 * authentication), health, and the procedures built to run at the edge as well. The edge builds
 * exactly this (server/composition/edge/dependencies.ts); the origin builds `AppDeps`.
 */
export interface RequestDeps {
  site: Site;
  config: Config;
  logger: Logger;
  build: BuildInfo;
  startedAt: Date;
  metrics: Metrics;
  database: PlatformDatabase;
  initializer: Initializer;
  lifecycle: Lifecycle;
  rateLimiter: RateLimiter;
  /** Verifies access tokens and API keys. */
  auth: Pick<AuthServices, 'authenticator'>;
  /** Records each request's route, procedure, status and latency. */
  performance: Pick<PerformanceServices, 'analytics'>;
  /**
   * Traces (docs/operations.md, "Tracing"): null or absent when OTEL_EXPORTER_OTLP_ENDPOINT is
   * unset, and then nothing on the request path traces; propagation only at the edge.
   */
  tracing?: Tracing | null;
  /** Pauses mutations on every instance; null where nothing is written (the edge). */
  maintenance: Pick<MaintenanceMode, 'refuses' | 'current'> | null;
}

/**
 * Everything the origin's app needs, built once at start (server/composition/dependencies.ts) or
 * by a test, and handed to `createApp`. Handlers reach these through context, never through imports.
 */
export interface AppDeps extends RequestDeps {
  site: 'origin';
  cache: Cache;
  /** Cache warmers services register; run in the cache phase and on demand. */
  cacheWarmers: WarmerRegistry;
  /** Cache invalidations that reach every instance. */
  cacheInvalidation: DistributedInvalidation;
  /** Environments and their configuration, deployments, backups. */
  devops: {
    environments: EnvironmentService;
    deployments: DeploymentService;
    engine: DeploymentEngine;
    backups: BackupService;
    /** Point-in-time recovery's archiving and base backups; null when BACKUP_PITR is off. */
    pointInTime: PointInTimeRecovery | null;
  };
  /** Maintenance mode: mutations paused on every instance. */
  maintenance: MaintenanceMode;
  /** Alert rules, their evaluator and the webhook notifier. */
  alerts: AlertServices;
  /** Live analytics, query monitoring and resource samples behind the performance router. */
  performance: PerformanceServices;
  /** Users, sessions, tokens, API keys and the audit log. */
  auth: AuthServices;
  /** Event-loop lag most recently measured, in seconds. */
  eventLoopLag: () => number;
}
