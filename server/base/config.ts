import { z } from 'zod';
import { restoreTargetList } from '../../shared/devops-backups';
import { TRACE_SAMPLERS } from './tracing/sampler-names';

const int = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

/** Where an outbound purpose may go besides the public internet: CIDRs, addresses or host names. */
const outboundAllowList = commaList
  .pipe(
    z.array(z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6(), z.hostname()]), {
      message: 'must be a comma-separated list of CIDRs (10.1.0.0/16), addresses or host names',
    }),
  )
  .default([]);

const secret = (minLength: number) =>
  z.string().min(minLength, `must be at least ${minLength} characters`).optional();

/**
 * Every setting the server reads from its environment, with its default.
 * One schema, so a bad value is caught at start-up with the variable's name,
 * never later inside a request.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** PostgreSQL URL; without it an embedded PostgreSQL is started with its data under DATA_DIR. */
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, message: 'must be a postgres:// or postgresql:// URL' })
    .optional(),
  DATA_DIR: z.string().min(1).default('.data'),
  /** Port of the embedded PostgreSQL; 0 picks a free one. */
  EMBEDDED_PG_PORT: int(0, 65535).default(0),
  DB_POOL_MAX: int(1, 1000).default(10),
  DB_CONNECT_TIMEOUT_MS: int(100, 120_000).default(10_000),
  DB_CONNECT_ATTEMPTS: int(1, 1000).default(10),
  DB_RETRY_BASE_MS: int(1, 60_000).default(100),
  DB_RETRY_MAX_MS: int(1, 300_000).default(5_000),
  DB_STATEMENT_TIMEOUT_MS: int(0, 3_600_000).default(15_000),
  /**
   * Send the hot reads as named prepared statements (planned once per connection). Turn off behind
   * a pooler that cannot keep them (PgBouncer in transaction mode before 1.21).
   */
  DB_NAMED_STATEMENTS: bool.default(true),
  DB_IDLE_TIMEOUT_MS: int(0, 3_600_000).default(30_000),
  DB_HEALTH_INTERVAL_MS: int(100, 3_600_000).default(30_000),
  /** Bound on the database check of GET /api/health. */
  HEALTH_DB_TIMEOUT_MS: int(10, 60_000).default(2_000),
  /** After SIGTERM, readiness answers 503 this long before the listener closes (load balancers notice). */
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 600_000).default(5_000),
  /** Bound on waiting for in-flight requests once the listener is closed. */
  SHUTDOWN_TIMEOUT_MS: int(0, 600_000).default(30_000),
  /** The first admin, created at start when no user has that email yet (see also `npm run admin:create`). */
  ADMIN_EMAIL: z.email({ message: 'must be an email address' }).optional(),
  ADMIN_PASSWORD: secret(12),
  /**
   * AES-256 key (base64 of 32 bytes, `openssl rand -base64 32`) sealing the JWT signing keys in the
   * database and deriving refresh-token children; generated into DATA_DIR if unset.
   */
  AUTH_KEY_ENCRYPTION_KEY: secret(44),
  AUTH_ISSUER: z.string().min(1).default('beauty-crafter'),
  AUTH_AUDIENCE: z.string().min(1).default('beauty-crafter-api'),
  AUTH_SIGNING_ALG: z.enum(['EdDSA', 'ES256']).default('EdDSA'),
  AUTH_ACCESS_TOKEN_TTL_SECONDS: int(60, 86_400).default(900),
  /** Allowed clock skew between issuer and verifier when checking exp, nbf and iat. */
  AUTH_CLOCK_TOLERANCE_SECONDS: int(0, 300).default(5),
  /** A new signing key takes over after this many days; old keys verify until their tokens expire. */
  AUTH_KEY_ROTATION_DAYS: int(1, 365).default(30),
  /** Replaying a just-rotated refresh token within this window returns the current one. */
  AUTH_REFRESH_GRACE_SECONDS: int(0, 300).default(10),
  AUTH_SESSION_LIFETIME_HOURS: int(1, 24 * 365).default(24 * 30),
  AUTH_SESSION_IDLE_HOURS: int(1, 24 * 365).default(24 * 7),
  /** scrypt cost log2(N); OWASP's minimum is 17. Lower only to speed up tests. */
  AUTH_PASSWORD_COST: int(10, 20).default(17),
  /**
   * Platform-scope procedures refuse a platform role's session opened without a second factor
   * (FORBIDDEN, reason SECOND_FACTOR_REQUIRED). API keys are not sessions and are not affected.
   */
  AUTH_PLATFORM_REQUIRE_SECOND_FACTOR: bool.default(false),
  /**
   * The pages passkeys are used from, comma-separated origins (`https://app.example.com`), when
   * they are not this server's own as its requests see it (behind a proxy that rewrites Host, or
   * a dashboard on another host). Unset: a page of this server, its Origin's host equal to Host.
   */
  AUTH_PASSKEY_ORIGINS: commaList
    .pipe(
      z.array(
        z
          .url({ protocol: /^https?$/, message: 'must be a comma-separated list of http(s) origins' })
          .refine((value) => URL.canParse(value) && new URL(value).origin === value.replace(/\/$/, ''), {
            message: 'must be origins only (scheme, host and port; no path)',
          }),
      ),
    )
    .default([]),
  /**
   * The relying party id passkeys are bound to: a host name every AUTH_PASSKEY_ORIGINS host is or
   * is under (`example.com` for app.example.com and admin.example.com). Default: the first
   * origin's host. Changing it makes the passkeys registered before unusable.
   */
  AUTH_PASSKEY_RP_ID: z.hostname({ message: 'must be a host name' }).optional(),
  /** Origins allowed by CORS and for cookie-authenticated mutations, comma-separated. */
  CORS_ORIGINS: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .pipe(
      z.array(z.url({ protocol: /^https?$/, message: 'must be a comma-separated list of http(s) origins' })),
    )
    .default([]),
  /** Behind a reverse proxy: take the client address from the last X-Forwarded-For entry. */
  TRUST_PROXY: bool.default(false),
  /** Calls a minute from one address without credentials (each call of a batch counts). */
  RATE_LIMIT_IP_PER_MINUTE: int(1, 10_000_000).default(600),
  /** Calls a minute of one signed-in user; API keys have limits of their own. */
  RATE_LIMIT_USER_PER_MINUTE: int(1, 10_000_000).default(1_200),
  /** Login attempts a minute from one address (failing closed when the store is down). */
  RATE_LIMIT_LOGIN_PER_MINUTE: int(1, 10_000).default(10),
  /** Refreshes a minute from one address (failing closed when the store is down). */
  RATE_LIMIT_REFRESH_PER_MINUTE: int(1, 10_000).default(30),
  /** Where rate-limit state lives: this instance only, PostgreSQL (shared) or Redis (REDIS_URL). */
  RATE_LIMIT_STORE: z.enum(['memory', 'postgres', 'redis']).default('memory'),
  REDIS_URL: z.url({ protocol: /^rediss?$/, message: 'must be a redis:// or rediss:// URL' }).optional(),
  /** Optional bearer token Prometheus must present on GET /metrics. */
  METRICS_TOKEN: secret(16),
  /** Live request analytics (performance.overview/routes/procedure); off only to price them in a benchmark. */
  PERFORMANCE_ANALYTICS: bool.default(true),
  /** Queries taking at least this long enter the slow-query log of performance.queries. */
  PERFORMANCE_SLOW_QUERY_MS: int(1, 3_600_000).default(200),
  CACHE_MAX_ENTRIES: int(1, 10_000_000).default(10_000),
  CACHE_MAX_BYTES: int(1_024, 2 ** 40).default(64 * 1024 * 1024),
  CACHE_DEFAULT_TTL_MS: int(0, 86_400_000).default(60_000),
  /** Bound on each cache warmer's run. */
  CACHE_WARM_TIMEOUT_MS: int(1, 600_000).default(10_000),
  /** How often alert rules are evaluated (by one instance at a time). */
  ALERT_EVAL_INTERVAL_MS: int(1_000, 3_600_000).default(15_000),
  /** Ship the default alert rules (the ones in deploy/prometheus/platform-alerts.rules.yml). */
  ALERT_DEFAULT_RULES: bool.default(true),
  /** Link to this platform put in alert notifications (Alertmanager's externalURL). */
  ALERT_EXTERNAL_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  ALERT_WEBHOOK_TIMEOUT_MS: int(100, 60_000).default(5_000),
  ALERT_WEBHOOK_MAX_ATTEMPTS: int(1, 100).default(12),
  /** Allow alert webhooks to loopback and private addresses, link-local aside (refused by default: SSRF). */
  ALERT_WEBHOOK_ALLOW_PRIVATE: bool.default(false),
  /** Prometheus HTTP API for deployment analysis (PromQL); without it, the targets' own /metrics. */
  DEPLOY_PROMETHEUS_URL: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  /** Allow deployment providers (webhooks, Kubernetes API servers) to call loopback and private addresses. */
  DEPLOY_ALLOW_PRIVATE_NETWORKS: bool.default(false),
  /**
   * Outbound requests to destinations users give (docs/outbound-requests.md): per purpose, the
   * networks (CIDRs, addresses) or host names reachable besides the public internet.
   */
  OUTBOUND_ALLOW_ALERT_WEBHOOK: outboundAllowList,
  OUTBOUND_ALLOW_DEPLOYMENT_WEBHOOK: outboundAllowList,
  OUTBOUND_ALLOW_KUBERNETES: outboundAllowList,
  /** Deployments' metricsTargets (DEPLOY_PROMETHEUS_URL's own host is allowed implicitly). */
  OUTBOUND_ALLOW_METRICS: outboundAllowList,
  /** DNS servers (`127.0.0.1:5353`, `[::1]:53`) outbound requests resolve with, instead of the system's resolver. */
  OUTBOUND_DNS_SERVERS: commaList
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^(\d{1,3}(\.\d{1,3}){3}(:\d{1,5})?|\[[0-9a-fA-F:.]+\](:\d{1,5})?|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)$/,
          ),
        { message: 'must be a comma-separated list of address[:port] (IPv6 in brackets with a port)' },
      ),
    )
    .default([]),
  /** Where backup archives are written, one directory per backup (default DATA_DIR/backups). */
  BACKUP_DIR: z.string().min(1).optional(),
  /** The pg_dump used when it can dump the server ('off': always COPY). */
  BACKUP_PG_DUMP: z.string().min(1).default('pg_dump'),
  BACKUP_SCHEDULER_INTERVAL_MS: int(1_000, 3_600_000).default(30_000),
  /**
   * Databases a restore may write into besides the platform's own: comma-separated
   * `host[:port]/database` (port 5432 by default, IPv6 in brackets); see docs/backups.md.
   */
  BACKUP_RESTORE_TARGETS: restoreTargetList.default([]),
  /**
   * S3-compatible object storage for the archives (docs/backups.md): set the bucket to use it.
   * The endpoint is for a service other than AWS S3 (MinIO, Cloudflare R2, Ceph…).
   */
  BACKUP_S3_BUCKET: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      'must be a bucket name (3-63 lower-case letters, digits, dots, hyphens)',
    )
    .optional(),
  BACKUP_S3_ENDPOINT: z
    .url({ protocol: /^https?$/, message: 'must be an http:// or https:// URL' })
    .optional(),
  BACKUP_S3_REGION: z.string().min(1).default('us-east-1'),
  /** Keys start with it (e.g. `platform/prod/`): one installation per prefix. */
  BACKUP_S3_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9!_.*'()/-]{0,200}$/, "must be up to 200 characters of letters, digits and !_.*'()/-")
    .default(''),
  /** Unset: the AWS SDK's default credentials (AWS_* variables, instance or pod role). */
  BACKUP_S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  BACKUP_S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style addressing (`endpoint/bucket/key`), which most non-AWS services need. */
  BACKUP_S3_FORCE_PATH_STYLE: bool.default(false),
  /**
   * Point-in-time recovery (docs/backups.md): WAL archived and shipped to the backup store
   * (BACKUP_DIR/pitr or the bucket's pitr/), physical base backups on a schedule. Needs a server
   * whose settings and files the platform reaches: the embedded one, or one on this machine with
   * BACKUP_PITR_DATA_DIR and an archive_command writing into BACKUP_PITR_SPOOL_DIR.
   */
  BACKUP_PITR: bool.default(false),
  /** The server's data directory, read by base backups (default: the embedded server's). */
  BACKUP_PITR_DATA_DIR: z.string().min(1).optional(),
  /** Where archive_command puts WAL files for the platform to ship (default DATA_DIR/wal-spool). */
  BACKUP_PITR_SPOOL_DIR: z.string().min(1).optional(),
  /** When base backups are taken: five cron fields in UTC, or @daily, @weekly… */
  BACKUP_PITR_BASE_SCHEDULE: z.string().trim().min(1).max(200).default('0 3 * * *'),
  /** Base backups kept; the WAL before the oldest kept one goes with the others. */
  BACKUP_PITR_KEEP_BASE_BACKUPS: int(1, 100).default(2),
  /** The embedded server's archive_timeout: the most a lost machine loses of a quiet server. */
  BACKUP_PITR_ARCHIVE_TIMEOUT_S: int(10, 3_600).default(60),
  BACKUP_PITR_SHIP_INTERVAL_MS: int(100, 600_000).default(2_000),
  TRPC_MAX_BATCH_SIZE: int(1, 100).default(20),
  /**
   * Serve single tRPC calls on the hot path (server/http/trpc-single-call.ts) rather than through
   * tRPC's fetch adapter; off only to compare the two (tests, measurements).
   */
  TRPC_FAST_PATH: bool.default(true),
  BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024).default(1024 * 1024),
  /** Expose pool, runtime and process metrics; off only for benchmarks of the bare stack. */
  METRICS_DEFAULTS: bool.default(true),
  /**
   * Traces (docs/operations.md, "Tracing"): the OTLP/HTTP collector, spans going to
   * `<endpoint>/v1/traces`. Unset, nothing is traced and nothing of tracing runs per request.
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).optional(),
  /** The head sampler, as OpenTelemetry's SDKs name them. */
  OTEL_TRACES_SAMPLER: z.enum(TRACE_SAMPLERS).default('parentbased_always_on'),
  /** The share of new traces the ratio samplers keep, 0 to 1. */
  OTEL_TRACES_SAMPLER_ARG: z
    .string()
    .trim()
    .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'must be a number from 0 to 1')
    .transform(Number)
    .default(1),
  /** The `service.name` of the spans. */
  OTEL_SERVICE_NAME: z.string().min(1).default('beauty-crafter-platform'),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Reads the configuration from an environment. Empty strings count as unset, as shells and
 * orchestrators commonly export `VAR=` for "no value". Throws ConfigError with one line per problem.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = configSchema.safeParse(input);
  if (parsed.success) {
    const problems = [...backupStorageProblems(parsed.data), ...passkeyProblems(parsed.data)];
    if (problems.length > 0) throw new ConfigError(problems.join('\n'));
    return parsed.data;
  }
  const lines = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'environment');
    // Quoted as JSON and shortened, so a value holding a newline cannot break the
    // one-line-per-problem promise (or forge a line of its own).
    const shown =
      name in input && !/TOKEN|PASSWORD|SECRET|KEY|DATABASE_URL|REDIS_URL|RESTORE_TARGETS/.test(name)
        ? ` (got ${JSON.stringify(shorten(input[name] ?? ''))})`
        : '';
    return `invalid configuration: ${name} ${issue.message}${shown}`;
  });
  throw new ConfigError(lines.join('\n'));
}

/** BACKUP_S3_* settings that only make sense together. */
function backupStorageProblems(config: Config): string[] {
  const problems: string[] = [];
  const set = (Object.keys(config) as (keyof Config)[]).filter(
    (key) =>
      key.startsWith('BACKUP_S3_') &&
      key !== 'BACKUP_S3_REGION' &&
      key !== 'BACKUP_S3_PREFIX' &&
      key !== 'BACKUP_S3_FORCE_PATH_STYLE' &&
      config[key] !== undefined,
  );
  if (set.length > 0 && !config.BACKUP_S3_BUCKET) {
    problems.push(`invalid configuration: BACKUP_S3_BUCKET must be set with ${set.join(', ')}`);
  }
  if ((config.BACKUP_S3_ACCESS_KEY_ID === undefined) !== (config.BACKUP_S3_SECRET_ACCESS_KEY === undefined)) {
    problems.push(
      'invalid configuration: BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY go together (or neither, for the default credentials)',
    );
  }
  if (config.BACKUP_PITR && config.DATABASE_URL && !config.BACKUP_PITR_DATA_DIR) {
    problems.push(
      "invalid configuration: BACKUP_PITR with DATABASE_URL needs BACKUP_PITR_DATA_DIR (the server's data directory, on this machine) and an archive_command writing into BACKUP_PITR_SPOOL_DIR (docs/backups.md); a managed database offers its own point-in-time recovery instead",
    );
  }
  return problems;
}

/** The relying party must be each passkey origin's host or a domain above it (WebAuthn's rule). */
function passkeyProblems(config: Config): string[] {
  const rpId = config.AUTH_PASSKEY_RP_ID;
  if (!rpId) return [];
  if (config.AUTH_PASSKEY_ORIGINS.length === 0) {
    return [
      'invalid configuration: AUTH_PASSKEY_RP_ID needs AUTH_PASSKEY_ORIGINS (the pages passkeys are used from)',
    ];
  }
  return config.AUTH_PASSKEY_ORIGINS.filter((origin) => {
    const host = new URL(origin).hostname;
    return host !== rpId && !host.endsWith(`.${rpId}`);
  }).map(
    (origin) =>
      `invalid configuration: AUTH_PASSKEY_RP_ID ${rpId} must be the host of ${origin} or a domain above it`,
  );
}

function shorten(value: string, max = 64): string {
  return value.length > max ? `${value.slice(0, max)}…` : value;
}

/**
 * Settings whose values are secrets. Named one by one rather than matched by pattern: a pattern
 * wide enough to catch them also hid AUTH_ACCESS_TOKEN_TTL_SECONDS and AUTH_PASSWORD_COST.
 */
const SECRET_SETTINGS = new Set<string>([
  'ADMIN_PASSWORD',
  'AUTH_KEY_ENCRYPTION_KEY',
  'METRICS_TOKEN',
  'BACKUP_S3_SECRET_ACCESS_KEY',
]);

/** The configuration with secrets replaced, for system status and logs. */
export function redactConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined) continue;
    if (SECRET_SETTINGS.has(key)) shown[key] = '[redacted]';
    else if (key === 'DATABASE_URL' || key === 'REDIS_URL' || key === 'OTEL_EXPORTER_OTLP_ENDPOINT')
      shown[key] = redactUrl(String(value));
    else shown[key] = value;
  }
  return shown;
}

/** Query parameters of a PostgreSQL URL that carry secrets (libpq and node-postgres read them). */
const SECRET_URL_PARAMS = ['password', 'sslpassword'];

/** A connection URL with its password removed, whether in the user info or in the query. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '[redacted]';
    for (const param of SECRET_URL_PARAMS) {
      if (parsed.searchParams.has(param)) parsed.searchParams.set(param, '[redacted]');
    }
    return parsed.toString();
  } catch {
    return '[redacted]';
  }
}
