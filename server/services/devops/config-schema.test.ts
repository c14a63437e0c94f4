import { describe, expect, it } from 'vitest';
import { ConfigInvalidError, validateConfiguration } from './config-schema';

const staging = { name: 'staging', protected: false };
const production = { name: 'production', protected: true };

function issuesOf(
  environment: typeof staging,
  config: { values: Record<string, unknown>; secretKeys: string[] },
) {
  try {
    validateConfiguration(environment, config);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigInvalidError);
    return (error as ConfigInvalidError).issues.issues.map((issue) => issue.message);
  }
}

describe('configuration rules', () => {
  it('accept typed values and secrets under any environment', () => {
    const config = { values: { PORT: 8080, LOG_LEVEL: 'info', FEATURE: false }, secretKeys: ['DB_PASSWORD'] };
    expect(issuesOf(staging, config)).toEqual([]);
    expect(issuesOf(production, config)).toEqual([]);
  });

  it('refuse a key that is both a value and a secret, and credentials given as plain values', () => {
    expect(issuesOf(staging, { values: { API_URL: 'x' }, secretKeys: ['API_URL'] })).toEqual([
      'API_URL: is both a value and a secret; delete one of them',
    ]);
    for (const key of [
      'PASSWORD',
      'SMTP_PASSWORD',
      'JWT_SECRET',
      'GITHUB_TOKEN',
      'TLS_PRIVATE_KEY',
      'STRIPE_API_KEY',
    ]) {
      expect(issuesOf(staging, { values: { [key]: 'plain' }, secretKeys: [] })).toEqual([
        `${key}: names a credential, so it must be given as a secret`,
      ]);
    }
    // Names that merely contain the words are fine.
    expect(
      issuesOf(staging, { values: { TOKEN_TTL_SECONDS: 60, PASSWORD_MIN_LENGTH: 12 }, secretKeys: [] }),
    ).toEqual([]);
  });

  it('count values and secrets together against the limit', () => {
    const values = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`V_${i}`, i]));
    const secretKeys = Array.from({ length: 51 }, (_, i) => `S_${i}`);
    expect(issuesOf(staging, { values, secretKeys })).toEqual([
      'a configuration has at most 200 keys, values and secrets together (this one has 201)',
    ]);
  });

  it('keep protected environments from verbose logging and debug switches', () => {
    for (const level of ['debug', 'TRACE', ' Debug ']) {
      expect(issuesOf(production, { values: { LOG_LEVEL: level }, secretKeys: [] })).toEqual([
        'LOG_LEVEL: production is protected, so it must not be debug or trace',
      ]);
      expect(issuesOf(staging, { values: { LOG_LEVEL: level }, secretKeys: [] })).toEqual([]);
    }
    for (const debug of [true, 'true', '1', 'on', 'YES']) {
      expect(issuesOf(production, { values: { DEBUG: debug }, secretKeys: [] })).toHaveLength(1);
    }
    expect(issuesOf(production, { values: { DEBUG: false, LOG_LEVEL: 'warn' }, secretKeys: [] })).toEqual([]);
  });
});
