import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, loadConfig, redactConfig, redactUrl } from './config';

/** The ConfigError loadConfig throws for `env`; fails the test when it throws none. */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('gives every setting its default when the environment is empty', () => {
    expect(loadConfig({})).toEqual({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: 3000,
      LOG_LEVEL: 'info',
      DATA_DIR: '.data',
      EMBEDDED_PG_PORT: 0,
      DB_POOL_MAX: 10,
      DB_CONNECT_TIMEOUT_MS: 10_000,
      DB_CONNECT_ATTEMPTS: 10,
      DB_RETRY_BASE_MS: 100,
      DB_RETRY_MAX_MS: 5_000,
      DB_STATEMENT_TIMEOUT_MS: 15_000,
      DB_NAMED_STATEMENTS: true,
      DB_IDLE_TIMEOUT_MS: 30_000,
      DB_HEALTH_INTERVAL_MS: 30_000,
      HEALTH_DB_TIMEOUT_MS: 2_000,
      SHUTDOWN_DRAIN_DELAY_MS: 5_000,
      SHUTDOWN_TIMEOUT_MS: 30_000,
      PERFORMANCE_ANALYTICS: true,
      PERFORMANCE_SLOW_QUERY_MS: 200,
      CACHE_MAX_ENTRIES: 10_000,
      CACHE_MAX_BYTES: 64 * 1024 * 1024,
      CACHE_DEFAULT_TTL_MS: 60_000,
      CACHE_WARM_TIMEOUT_MS: 10_000,
      ALERT_EVAL_INTERVAL_MS: 15_000,
      ALERT_DEFAULT_RULES: true,
      ALERT_WEBHOOK_TIMEOUT_MS: 5_000,
      ALERT_WEBHOOK_MAX_ATTEMPTS: 12,
      ALERT_WEBHOOK_ALLOW_PRIVATE: false,
      DEPLOY_ALLOW_PRIVATE_NETWORKS: false,
      OUTBOUND_ALLOW_ALERT_WEBHOOK: [],
      OUTBOUND_ALLOW_DEPLOYMENT_WEBHOOK: [],
      OUTBOUND_ALLOW_KUBERNETES: [],
      OUTBOUND_ALLOW_METRICS: [],
      OUTBOUND_DNS_SERVERS: [],
      BACKUP_PG_DUMP: 'pg_dump',
      BACKUP_RESTORE_TARGETS: [],
      BACKUP_SCHEDULER_INTERVAL_MS: 30_000,
      BACKUP_S3_REGION: 'us-east-1',
      BACKUP_S3_PREFIX: '',
      BACKUP_S3_FORCE_PATH_STYLE: false,
      BACKUP_PITR: false,
      BACKUP_PITR_BASE_SCHEDULE: '0 3 * * *',
      BACKUP_PITR_KEEP_BASE_BACKUPS: 2,
      BACKUP_PITR_ARCHIVE_TIMEOUT_S: 60,
      BACKUP_PITR_SHIP_INTERVAL_MS: 2_000,
      TRPC_MAX_BATCH_SIZE: 20,
      TRPC_FAST_PATH: true,
      BODY_LIMIT_BYTES: 1024 * 1024,
      METRICS_DEFAULTS: true,
      AUTH_ISSUER: 'beauty-crafter',
      AUTH_AUDIENCE: 'beauty-crafter-api',
      AUTH_SIGNING_ALG: 'EdDSA',
      AUTH_ACCESS_TOKEN_TTL_SECONDS: 900,
      AUTH_CLOCK_TOLERANCE_SECONDS: 5,
      AUTH_KEY_ROTATION_DAYS: 30,
      AUTH_REFRESH_GRACE_SECONDS: 10,
      AUTH_SESSION_LIFETIME_HOURS: 720,
      AUTH_SESSION_IDLE_HOURS: 168,
      AUTH_PASSWORD_COST: 17,
      AUTH_PLATFORM_REQUIRE_SECOND_FACTOR: false,
      AUTH_PASSKEY_ORIGINS: [],
      CORS_ORIGINS: [],
      TRUST_PROXY: false,
      RATE_LIMIT_IP_PER_MINUTE: 600,
      RATE_LIMIT_USER_PER_MINUTE: 1_200,
      RATE_LIMIT_LOGIN_PER_MINUTE: 10,
      RATE_LIMIT_REFRESH_PER_MINUTE: 30,
      RATE_LIMIT_STORE: 'memory',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_TRACES_SAMPLER_ARG: 1,
      OTEL_SERVICE_NAME: 'beauty-crafter-platform',
    });
  });

  it('leaves DATABASE_URL and the secrets unset by default (embedded PostgreSQL, generated key)', () => {
    const config = loadConfig({});
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.ADMIN_PASSWORD).toBeUndefined();
    expect(config.AUTH_KEY_ENCRYPTION_KEY).toBeUndefined();
    expect(config.METRICS_TOKEN).toBeUndefined();
  });

  it('treats empty strings as unset', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', LOG_LEVEL: '' });
    expect(config).toMatchObject({ PORT: 3000, LOG_LEVEL: 'info' });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('reads whole numbers, booleans and URLs from their text', () => {
    const config = loadConfig({
      PORT: ' 8080 ',
      DB_POOL_MAX: '25',
      METRICS_DEFAULTS: 'no',
      DATABASE_URL: 'postgresql://app:pw@db.internal:5432/platform',
      ADMIN_PASSWORD: 'a'.repeat(32),
      CORS_ORIGINS: 'https://app.example, http://localhost:5173',
    });
    expect(config.PORT).toBe(8080);
    expect(config.DB_POOL_MAX).toBe(25);
    expect(config.METRICS_DEFAULTS).toBe(false);
    expect(config.DATABASE_URL).toBe('postgresql://app:pw@db.internal:5432/platform');
    expect(config.ADMIN_PASSWORD).toBe('a'.repeat(32));
    expect(config.CORS_ORIGINS).toEqual(['https://app.example', 'http://localhost:5173']);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('reads METRICS_DEFAULTS=%s as %s', (text, value) => {
    expect(loadConfig({ METRICS_DEFAULTS: text }).METRICS_DEFAULTS).toBe(value);
  });

  it('reads the outbound allow-lists and DNS servers as lists, refusing what is neither a CIDR nor a host', () => {
    const config = loadConfig({
      OUTBOUND_ALLOW_KUBERNETES: '10.96.0.0/12, fd00::/8,kubernetes.default.svc',
      OUTBOUND_ALLOW_METRICS: '127.0.0.1',
      OUTBOUND_DNS_SERVERS: '127.0.0.1:5353,[::1]:53',
    });
    expect(config.OUTBOUND_ALLOW_KUBERNETES).toEqual(['10.96.0.0/12', 'fd00::/8', 'kubernetes.default.svc']);
    expect(config.OUTBOUND_ALLOW_METRICS).toEqual(['127.0.0.1']);
    expect(config.OUTBOUND_DNS_SERVERS).toEqual(['127.0.0.1:5353', '[::1]:53']);
    expect(problems({ OUTBOUND_ALLOW_METRICS: '10.0.0.0/33' })[0]).toMatch(
      /^invalid configuration: OUTBOUND_ALLOW_METRICS/,
    );
    expect(problems({ OUTBOUND_DNS_SERVERS: 'dns.example' })[0]).toMatch(/OUTBOUND_DNS_SERVERS/);
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ PATH: '/usr/bin', SOMETHING_ELSE: 'x' })).toEqual(loadConfig({}));
  });

  it.each([
    ['NODE_ENV', 'staging'],
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://root@localhost/db'],
    ['DATABASE_URL', 'not a url'],
    ['EMBEDDED_PG_PORT', '65536'],
    ['DB_POOL_MAX', '0'],
    ['DB_CONNECT_TIMEOUT_MS', '99'],
    ['DB_CONNECT_ATTEMPTS', '1001'],
    ['DB_RETRY_BASE_MS', '0'],
    ['DB_RETRY_MAX_MS', 'soon'],
    ['DB_STATEMENT_TIMEOUT_MS', '1e3'],
    ['DB_IDLE_TIMEOUT_MS', '3600001'],
    ['DB_HEALTH_INTERVAL_MS', '99'],
    ['HEALTH_DB_TIMEOUT_MS', '9'],
    ['SHUTDOWN_DRAIN_DELAY_MS', '600001'],
    ['SHUTDOWN_TIMEOUT_MS', 'forever'],
    ['ADMIN_PASSWORD', 'too-short'],
    ['ADMIN_EMAIL', 'not-an-email'],
    ['AUTH_KEY_ENCRYPTION_KEY', 'short'],
    ['AUTH_SIGNING_ALG', 'HS256'],
    ['AUTH_ACCESS_TOKEN_TTL_SECONDS', '59'],
    ['AUTH_PASSWORD_COST', '9'],
    ['CORS_ORIGINS', 'javascript:alert(1)'],
    ['RATE_LIMIT_STORE', 'memcached'],
    ['REDIS_URL', 'http://cache:6379'],
    ['METRICS_TOKEN', 'short'],
    ['TRPC_MAX_BATCH_SIZE', '101'],
    ['TRPC_MAX_BATCH_SIZE', '0'],
    ['BODY_LIMIT_BYTES', '1023'],
    ['METRICS_DEFAULTS', 'maybe'],
  ])('refuses %s=%j in one line that names the variable', (name, value) => {
    const lines = problems({ [name as string]: value as string });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^invalid configuration: ${name} \\S`));
  });

  it('reports every bad variable, one line each', () => {
    const lines = problems({ PORT: 'x', LOG_LEVEL: 'loud', DB_POOL_MAX: '0' });
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.split(' ')[2]).sort()).toEqual(['DB_POOL_MAX', 'LOG_LEVEL', 'PORT']);
  });

  it('echoes a bad ordinary value so the operator sees what was read', () => {
    expect(problems({ PORT: 'eighty' })[0]).toContain('(got "eighty")');
  });

  it('keeps one line per problem when a value holds a newline', () => {
    const lines = problems({ LOG_LEVEL: 'info\ninvalid configuration: HOST forged' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('LOG_LEVEL');
  });

  it('shortens a long bad value in its echo', () => {
    const [line] = problems({ PORT: '9'.repeat(10_000) });
    expect(line?.length).toBeLessThan(300);
  });

  it.each([
    ['ADMIN_PASSWORD', 'secret-pw'],
    ['AUTH_KEY_ENCRYPTION_KEY', 'secret-not-base64-of-32-bytes'],
    ['METRICS_TOKEN', 'metrics-sekrit'],
    ['DATABASE_URL', 'mysql://root:hunter2-password@db.internal/app'],
    ['DATABASE_URL', 'http://root:hunter2-password@db.internal/app'],
  ])('never echoes the value of %s', (name, value) => {
    const [line] = problems({ [name]: value });
    expect(line).toContain(name);
    expect(line).not.toContain(value);
    expect(line).not.toContain('hunter2');
    expect(line).not.toContain('secret');
    expect(line).not.toContain('sekrit');
  });

  it('names every setting of the schema in its defaults or as optional', () => {
    const config = loadConfig({});
    const optional = [
      'DATABASE_URL',
      'ADMIN_EMAIL',
      'ADMIN_PASSWORD',
      'AUTH_KEY_ENCRYPTION_KEY',
      'METRICS_TOKEN',
      'REDIS_URL',
      'ALERT_EXTERNAL_URL',
      'DEPLOY_PROMETHEUS_URL',
      'BACKUP_DIR',
      'BACKUP_S3_BUCKET',
      'BACKUP_S3_ENDPOINT',
      'BACKUP_S3_ACCESS_KEY_ID',
      'BACKUP_S3_SECRET_ACCESS_KEY',
      'BACKUP_PITR_DATA_DIR',
      'BACKUP_PITR_SPOOL_DIR',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'AUTH_PASSKEY_RP_ID',
    ];
    for (const key of Object.keys(configSchema.shape)) {
      expect(key in config || optional.includes(key), key).toBe(true);
    }
  });
});

describe('BACKUP_S3_*', () => {
  it('takes a bucket with its endpoint, prefix, path style and credentials', () => {
    const config = loadConfig({
      BACKUP_S3_BUCKET: 'platform-backups',
      BACKUP_S3_ENDPOINT: 'https://minio.internal:9000',
      BACKUP_S3_PREFIX: 'prod/',
      BACKUP_S3_FORCE_PATH_STYLE: 'true',
      BACKUP_S3_ACCESS_KEY_ID: 'id',
      BACKUP_S3_SECRET_ACCESS_KEY: 'secret',
    });
    expect(config).toMatchObject({
      BACKUP_S3_BUCKET: 'platform-backups',
      BACKUP_S3_ENDPOINT: 'https://minio.internal:9000',
      BACKUP_S3_REGION: 'us-east-1',
      BACKUP_S3_PREFIX: 'prod/',
      BACKUP_S3_FORCE_PATH_STYLE: true,
    });
  });

  it('takes passkey origins and a relying party above them, and refuses anything else', () => {
    const config = loadConfig({
      AUTH_PASSKEY_ORIGINS: 'https://app.example.com, https://admin.example.com:8443',
      AUTH_PASSKEY_RP_ID: 'example.com',
    });
    expect(config.AUTH_PASSKEY_ORIGINS).toEqual([
      'https://app.example.com',
      'https://admin.example.com:8443',
    ]);
    expect(config.AUTH_PASSKEY_RP_ID).toBe('example.com');
    expect(() => loadConfig({ AUTH_PASSKEY_RP_ID: 'example.com' })).toThrow(
      'AUTH_PASSKEY_RP_ID needs AUTH_PASSKEY_ORIGINS',
    );
    expect(() =>
      loadConfig({ AUTH_PASSKEY_ORIGINS: 'https://app.example.com', AUTH_PASSKEY_RP_ID: 'other.com' }),
    ).toThrow(
      'AUTH_PASSKEY_RP_ID other.com must be the host of https://app.example.com or a domain above it',
    );
    // A suffix that is not a domain above it.
    expect(() =>
      loadConfig({ AUTH_PASSKEY_ORIGINS: 'https://badexample.com', AUTH_PASSKEY_RP_ID: 'example.com' }),
    ).toThrow('must be the host of https://badexample.com');
    for (const origins of ['https://app.example.com/login', 'ftp://app.example.com', 'not a url']) {
      expect(() => loadConfig({ AUTH_PASSKEY_ORIGINS: origins }), origins).toThrow(/AUTH_PASSKEY_ORIGINS/);
    }
  });

  it('refuses settings without a bucket, half a key pair, a bad bucket name or endpoint, never echoing the secret', () => {
    expect(() => loadConfig({ BACKUP_S3_ENDPOINT: 'https://minio.internal' })).toThrow(
      'invalid configuration: BACKUP_S3_BUCKET must be set with BACKUP_S3_ENDPOINT',
    );
    expect(() =>
      loadConfig({ BACKUP_S3_BUCKET: 'b-1', BACKUP_S3_SECRET_ACCESS_KEY: 'hidden-secret' }),
    ).toThrow(/BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY go together/);
    expect(() => loadConfig({ BACKUP_S3_BUCKET: 'Not_A_Bucket' })).toThrow(
      /BACKUP_S3_BUCKET must be a bucket name/,
    );
    expect(() => loadConfig({ BACKUP_S3_BUCKET: 'b-1', BACKUP_S3_ENDPOINT: 'ftp://x' })).toThrow(
      /BACKUP_S3_ENDPOINT must be an http/,
    );
    const message = (() => {
      try {
        loadConfig({ BACKUP_S3_SECRET_ACCESS_KEY: 'hidden-secret' });
        return '';
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).not.toContain('hidden-secret');
  });
});

describe('redactConfig', () => {
  const config = loadConfig({
    DATABASE_URL: 'postgres://platform:pa55-w0rd@db.internal:5432/app',
    ADMIN_PASSWORD: 'admin-password-0123456789',
    AUTH_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
    REDIS_URL: 'redis://:redis-pa55@cache.internal:6379',
    METRICS_TOKEN: 'metrics-token-0123456789',
    BACKUP_S3_BUCKET: 'platform-backups',
    BACKUP_S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    BACKUP_S3_SECRET_ACCESS_KEY: 's3-secret-0123456789',
    PORT: '8080',
  });

  it('hides the admin password, the key-encryption key, the metrics token and the S3 secret', () => {
    const shown = redactConfig(config);
    expect(shown.ADMIN_PASSWORD).toBe('[redacted]');
    expect(shown.AUTH_KEY_ENCRYPTION_KEY).toBe('[redacted]');
    expect(shown.METRICS_TOKEN).toBe('[redacted]');
    expect(shown.BACKUP_S3_SECRET_ACCESS_KEY).toBe('[redacted]');
    expect(shown.BACKUP_S3_ACCESS_KEY_ID).toBe('AKIAEXAMPLE');
  });

  it('hides a password in the OTLP endpoint (a collector behind basic authentication)', () => {
    const shown = redactConfig(
      loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://tenant:otlp-pa55@otlp.example.com:4318' }),
    );
    expect(String(shown.OTEL_EXPORTER_OTLP_ENDPOINT)).not.toContain('otlp-pa55');
    expect(new URL(String(shown.OTEL_EXPORTER_OTLP_ENDPOINT)).hostname).toBe('otlp.example.com');
  });

  it('reads the tracing settings with their defaults, and refuses a ratio outside 0..1', () => {
    expect(loadConfig({})).toMatchObject({
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_TRACES_SAMPLER_ARG: 1,
      OTEL_SERVICE_NAME: 'beauty-crafter-platform',
    });
    expect(
      loadConfig({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' }),
    ).toMatchObject({
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: 0.01,
    });
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER_ARG: '1.5' })).toThrow(
      'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1',
    );
    expect(() => loadConfig({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER/);
  });

  it('hides the password of DATABASE_URL but keeps user, host, port and database', () => {
    const url = new URL(String(redactConfig(config).DATABASE_URL));
    expect(decodeURIComponent(url.password)).toBe('[redacted]');
    expect(url.username).toBe('platform');
    expect(url.hostname).toBe('db.internal');
    expect(url.port).toBe('5432');
    expect(url.pathname).toBe('/app');
  });

  it('leaves no secret anywhere in what it returns', () => {
    const text = JSON.stringify(redactConfig(config));
    expect(text).not.toContain('pa55-w0rd');
    expect(text).not.toContain('admin-password-0123456789');
    expect(text).not.toContain(Buffer.alloc(32, 1).toString('base64'));
    expect(text).not.toContain('redis-pa55');
    expect(text).not.toContain('metrics-token-0123456789');
    expect(text).not.toContain('s3-secret-0123456789');
  });

  it('shows ordinary settings as they are and omits unset ones', () => {
    const shown = redactConfig(loadConfig({ PORT: '8080' }));
    expect(shown.PORT).toBe(8080);
    // Names that merely contain TOKEN or PASSWORD are not secrets.
    expect(shown.AUTH_ACCESS_TOKEN_TTL_SECONDS).toBe(900);
    expect(shown.AUTH_PASSWORD_COST).toBe(17);
    expect(shown.BODY_LIMIT_BYTES).toBe(1024 * 1024);
    expect('DATABASE_URL' in shown).toBe(false);
    expect('ADMIN_PASSWORD' in shown).toBe(false);
  });
});

describe('redactUrl', () => {
  it('hides a password given in the query string', () => {
    const shown = redactUrl('postgres://platform@db.internal/app?password=hunter2&sslmode=require');
    expect(shown).not.toContain('hunter2');
    expect(new URL(shown).searchParams.get('sslmode')).toBe('require');
    expect(new URL(shown).searchParams.get('password')).toBe('[redacted]');
  });

  it('hides an sslpassword given in the query string', () => {
    expect(redactUrl('postgres://db.internal/app?sslpassword=key-secret')).not.toContain('key-secret');
  });

  it('hides a percent-encoded password', () => {
    expect(redactUrl('postgres://u:p%40ss%2Fw0rd@h/db')).not.toContain('p%40ss');
  });

  it('leaves a URL without secrets as it was', () => {
    expect(redactUrl('postgres://platform@db.internal:5432/app')).toBe(
      'postgres://platform@db.internal:5432/app',
    );
  });

  it('hides the whole of what it cannot parse', () => {
    expect(redactUrl('postgres://user:secret@[bad')).toBe('[redacted]');
  });
});
