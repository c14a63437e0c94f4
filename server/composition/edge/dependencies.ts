import { PlatformDatabase } from '../../../db/connect';
import { Initializer } from '../../base/initializer';
import { Lifecycle } from '../../base/lifecycle';
import { createLogger, type Logger } from '../../base/logger';
import { createMetrics, type Metrics } from '../../base/metrics/metrics';
import { RateLimiter } from '../../base/rate-limit/limiter';
import { MemoryRateLimitStore } from '../../base/rate-limit/memory-store';
import { rateLimitPolicies } from '../../base/rate-limit/policies';
import { createPropagation } from '../../base/tracing/context';
import type { RequestDeps } from '../../http/deps';
import { servedByOrigin } from '../../http/site';
import { Authenticator } from '../../services/auth/authenticator';
import { RevokedSessions } from '../../services/auth/revoked-sessions';
import { RequestAnalytics } from '../../services/performance/analytics';
import { edgeBuildInfo } from './build-info';
import { edgeDatabaseComponent, originKeysComponent } from './components';
import type { EdgeSettings } from './env';
import { OriginKeys } from './origin-keys';
import { currentScope, RequestScope } from './request-scope';

/**
 * Workers allow six connections open at once per request; the database gets four (a batch's
 * calls run side by side), leaving room for the fetch of the origin's keys.
 */
const CONNECTIONS_PER_REQUEST = 4;

/** A transient failure is tried once more within the request; the client retries the rest. */
const QUERY_ATTEMPTS = 2;

// An isolate has 128 MB for everything: the origin's bound (100,000 keys) is too generous.
const RATE_LIMIT_MAX_KEYS = 10_000;

/** Log lines to the console, which is where Workers Logs and `wrangler tail` read them. */
const CONSOLE_LINES = {
  write(line: string) {
    console.log(line.trimEnd());
  },
};

/**
 * API keys are the origin's to verify (their hashes, uses and limits live in its database and
 * its cache, kept current by a change feed an isolate cannot follow): a key is refused here,
 * naming the origin.
 */
const API_KEYS_AT_THE_ORIGIN = {
  check(): never {
    throw servedByOrigin('API-key verification');
  },
};

export interface EdgeDependencies {
  /** The request path's dependencies, built once per isolate; `database` is the current request's. */
  deps: RequestDeps;
  /** The scope of one request (see request-scope.ts). */
  openScope(): RequestScope;
}

/**
 * What the edge serves, and nothing else: the database (connections per request), token
 * verification against the origin's key set, per-isolate metrics (GET /metrics) and rate limits,
 * health. No other service is built; the origin's procedures refuse themselves here (`site` is
 * 'edge'), and the edge's app mounts none of the origin's routes (server/http/edge-app.ts).
 */
export function buildEdgeDependencies(settings: EdgeSettings): EdgeDependencies {
  const { config } = settings;
  const logger = createLogger({ level: config.LOG_LEVEL, destination: CONSOLE_LINES });
  const build = edgeBuildInfo(settings.commit);
  // No process metrics: an isolate is not a process, and workerd reports zeros for its memory.
  const metrics = createMetrics({ build, defaultMetrics: false });
  // Per isolate: a first line of defence near the caller. The limits shared by every instance
  // are the origin's (RATE_LIMIT_STORE), which the edge cannot reach without a query per call.
  const rateLimiter = new RateLimiter({
    store: new MemoryRateLimitStore({ maxKeys: RATE_LIMIT_MAX_KEYS }),
    metrics,
    policies: rateLimitPolicies(config),
    logger,
  });

  // Propagation only: the caller's trace id in the edge's logs and error bodies, and its
  // traceparent sent on to the origin with the fetch of its keys. Nothing is recorded here.
  const tracing = createPropagation();
  const keys = new OriginKeys({
    jwksUrl: settings.jwksUrl,
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    clockToleranceSeconds: config.AUTH_CLOCK_TOLERANCE_SECONDS,
    logger,
    tracing,
  });
  // Stays empty: revocations reach instances through the change feed, which an isolate cannot
  // follow. A revoked session's access tokens verify here until they expire.
  const revokedSessions = new RevokedSessions(
    (config.AUTH_ACCESS_TOKEN_TTL_SECONDS + config.AUTH_CLOCK_TOLERANCE_SECONDS) * 1000,
  );
  const authenticator = new Authenticator({
    keyring: keys,
    apiKeys: API_KEYS_AT_THE_ORIGIN,
    revokedSessions,
    metrics,
  });

  const database = () => currentScope().db;
  const lifecycle = new Lifecycle();
  const initializer = new Initializer({
    logger,
    retry: { baseMs: config.DB_RETRY_BASE_MS, maxMs: config.DB_RETRY_MAX_MS },
  });
  initializer.register(edgeDatabaseComponent(database, config));
  initializer.register(originKeysComponent(keys));
  metrics.bindInFlight(() => lifecycle.activeRequests());
  metrics.bindComponents(() => initializer.states());

  const deps: RequestDeps = {
    site: 'edge',
    config,
    logger,
    build,
    startedAt: new Date(),
    metrics,
    get database() {
      return database();
    },
    initializer,
    lifecycle,
    rateLimiter,
    auth: { authenticator },
    // Recorded by the request path, read only by the performance router, which is the origin's:
    // disabled, it records nothing.
    performance: { analytics: new RequestAnalytics({ enabled: false }) },
    // The edge writes nothing (every mutation is the origin's), so there is nothing to pause.
    maintenance: null,
    tracing,
  };
  return {
    deps,
    openScope: () => new RequestScope((isClosing) => openDatabase(settings, { logger, metrics, isClosing })),
  };
}

/** One request's database: the platform's PlatformDatabase, sized and bounded for a request. */
function openDatabase(
  { config, databaseUrl }: EdgeSettings,
  { logger, metrics, isClosing }: { logger: Logger; metrics: Metrics; isClosing: () => boolean },
): PlatformDatabase {
  return new PlatformDatabase({
    url: databaseUrl,
    poolMax: Math.min(config.DB_POOL_MAX, CONNECTIONS_PER_REQUEST),
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleTimeoutMs: config.DB_IDLE_TIMEOUT_MS,
    retry: { attempts: QUERY_ATTEMPTS, baseMs: config.DB_RETRY_BASE_MS, maxMs: config.DB_RETRY_MAX_MS },
    applicationName: 'beauty-crafter-edge',
    onQuery: (event) => metrics.observeQuery(event.sql, event.durationMs, event.error !== undefined),
    onWarning: (message, error) => {
      if (!isClosing()) logger.warn({ err: error }, message);
    },
  });
}
