import { z } from 'zod';
import { configKey, configValues, MAX_CONFIG_KEYS } from '../../../shared/devops-environments';
import { PlatformError } from '../../base/errors';

/**
 * The rules a configuration must keep to before it becomes a revision. The shapes (key pattern,
 * value types, sizes) are the client's schemas in shared/devops-environments.ts; on top of them,
 * rules that need the whole configuration or its environment, which no caller can turn off:
 *
 * Every environment:
 * - a key is a plain value or a secret, never both (which one would a process see?);
 * - at most MAX_CONFIG_KEYS entries, values and secrets together;
 * - a key named like a credential (PASSWORD, SECRET, TOKEN, PRIVATE_KEY, API_KEY, or ending in
 *   `_` and one of those) must be a secret, so a credential is never stored or shown in plaintext.
 *
 * Protected environments (production, by default):
 * - LOG_LEVEL, when set, is not `debug` or `trace`: those levels log request bodies and
 *   headers, which hold personal data and credentials;
 * - DEBUG, when set, is not true (`true`, `1`, `yes`, `on`), for the same reason.
 */

/** What the rules need to know of the environment. */
export interface EnvironmentRules {
  name: string;
  protected: boolean;
}

/** A configuration as the rules see it: plain values, and the names of its secrets. */
export interface ConfigurationShape {
  values: Record<string, unknown>;
  secretKeys: string[];
}

const CREDENTIAL_KEY = /(^|_)(PASSWORD|SECRET|TOKEN|PRIVATE_KEY|API_KEY)$/;
const VERBOSE_LOG_LEVELS = new Set(['debug', 'trace']);
const TRUTHY = new Set(['true', '1', 'yes', 'on']);

/**
 * The schema of a configuration of `environment`. An issue's path stops at `values` and its
 * message starts with the key: flattened issues (what clients get) keep only the first path
 * segment, and the message would otherwise not say which key it is about.
 */
export function configurationSchema(environment: EnvironmentRules) {
  return z.object({ values: configValues, secretKeys: z.array(configKey) }).superRefine((config, ctx) => {
    const secrets = new Set(config.secretKeys);
    for (const key of Object.keys(config.values)) {
      if (secrets.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['values'],
          message: `${key}: is both a value and a secret; delete one of them`,
        });
      }
      if (CREDENTIAL_KEY.test(key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['values'],
          message: `${key}: names a credential, so it must be given as a secret`,
        });
      }
    }
    const total = new Set([...Object.keys(config.values), ...secrets]).size;
    if (total > MAX_CONFIG_KEYS) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `a configuration has at most ${MAX_CONFIG_KEYS} keys, values and secrets together (this one has ${total})`,
      });
    }
    if (environment.protected) protectedRules(environment, config.values, ctx);
  });
}

function protectedRules(
  environment: EnvironmentRules,
  values: Record<string, unknown>,
  ctx: z.RefinementCtx,
): void {
  const logLevel = values.LOG_LEVEL;
  if (typeof logLevel === 'string' && VERBOSE_LOG_LEVELS.has(logLevel.trim().toLowerCase())) {
    ctx.addIssue({
      code: 'custom',
      path: ['values'],
      message: `LOG_LEVEL: ${environment.name} is protected, so it must not be debug or trace`,
    });
  }
  const debug = values.DEBUG;
  if (debug === true || (typeof debug === 'string' && TRUTHY.has(debug.trim().toLowerCase()))) {
    ctx.addIssue({
      code: 'custom',
      path: ['values'],
      message: `DEBUG: ${environment.name} is protected, so it must not be on`,
    });
  }
}

/** A configuration that breaks the schema or its environment's rules: BAD_REQUEST, with zod's issues. */
export class ConfigInvalidError extends PlatformError {
  constructor(readonly issues: z.ZodError) {
    const shown = issues.issues.slice(0, 10).map((issue) => issue.message);
    const more =
      issues.issues.length > shown.length ? ` (and ${issues.issues.length - shown.length} more)` : '';
    super('BAD_REQUEST', `invalid configuration: ${shown.join('; ')}${more}`);
  }
}

/** Throws ConfigInvalidError unless `config` keeps to the rules of `environment`. */
export function validateConfiguration(environment: EnvironmentRules, config: ConfigurationShape): void {
  const result = configurationSchema(environment).safeParse(config);
  if (!result.success) throw new ConfigInvalidError(result.error);
}
