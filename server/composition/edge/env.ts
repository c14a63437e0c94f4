import { z } from 'zod';
import { type Config, ConfigError, configSchema, loadConfig } from '../../base/config';

/** A Hyperdrive binding: a pooled, cached route from Cloudflare's network to the database. */
export interface HyperdriveBinding {
  connectionString: string;
}

/**
 * What the Worker is given (deploy/wrangler.toml): the origin's address, the database (a
 * Hyperdrive binding, or DATABASE_URL as a secret), and any of the origin's settings
 * (server/base/config.ts) that apply here: AUTH_ISSUER, AUTH_AUDIENCE, RATE_LIMIT_*, LOG_LEVEL...
 */
export interface EdgeEnv {
  /** The Bun/Node server that issues tokens and serves everything the edge does not. */
  ORIGIN_URL?: string;
  HYPERDRIVE?: HyperdriveBinding;
  DATABASE_URL?: string;
  /** The commit deployed (`wrangler deploy --var GIT_COMMIT:$(git rev-parse --short=12 HEAD)`). */
  GIT_COMMIT?: string;
  [name: string]: unknown;
}

export interface EdgeSettings {
  config: Config;
  /** Where the edge fetches the keys access tokens are verified with. */
  jwksUrl: string;
  /** Hyperdrive's connection string when bound, else DATABASE_URL. */
  databaseUrl: string;
  commit: string;
}

const originUrl = z.url({ protocol: /^https?$/, message: 'must be the http(s) URL of the origin server' });

/** Reads the Worker's environment; throws ConfigError naming every problem (never a secret's value). */
export function readEdgeSettings(env: EdgeEnv): EdgeSettings {
  const problems: string[] = [];
  const origin = originUrl.safeParse(env.ORIGIN_URL);
  if (!origin.success)
    problems.push('invalid configuration: ORIGIN_URL must be the http(s) URL of the origin server');
  const databaseUrl = env.HYPERDRIVE?.connectionString ?? stringOf(env.DATABASE_URL);
  if (!databaseUrl) {
    problems.push('invalid configuration: bind HYPERDRIVE or set DATABASE_URL (the edge reads the database)');
  }
  let config: Config | undefined;
  try {
    config = loadConfig({ ...configStrings(env), DATABASE_URL: databaseUrl });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(error.message);
  }
  if (problems.length > 0 || !config || !origin.success || !databaseUrl) {
    throw new ConfigError(problems.join('\n'));
  }
  return {
    config,
    jwksUrl: new URL('/.well-known/jwks.json', origin.data).toString(),
    databaseUrl,
    commit: stringOf(env.GIT_COMMIT) ?? 'unknown',
  };
}

/** The string settings of the environment the origin's schema knows; bindings are not settings. */
function configStrings(env: EdgeEnv): Record<string, string | undefined> {
  const strings: Record<string, string | undefined> = {};
  for (const name of Object.keys(configSchema.shape)) strings[name] = stringOf(env[name]);
  return strings;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
