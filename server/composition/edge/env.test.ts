import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../base/config';
import { readEdgeSettings } from './env';

const DATABASE_URL = 'postgres://edge:s3cret-database-password@db.internal:5432/platform';

describe("readEdgeSettings: the Worker's environment", () => {
  it("reads the origin, the database and the origin's own settings", () => {
    const settings = readEdgeSettings({
      ORIGIN_URL: 'https://api.example.com',
      DATABASE_URL,
      AUTH_AUDIENCE: 'partner-api',
      RATE_LIMIT_IP_PER_MINUTE: '60',
      GIT_COMMIT: '0123456789ab',
    });
    expect(settings.jwksUrl).toBe('https://api.example.com/.well-known/jwks.json');
    expect(settings.databaseUrl).toBe(DATABASE_URL);
    expect(settings.commit).toBe('0123456789ab');
    expect(settings.config.AUTH_AUDIENCE).toBe('partner-api');
    expect(settings.config.RATE_LIMIT_IP_PER_MINUTE).toBe(60);
  });

  it("prefers a Hyperdrive binding's connection string to DATABASE_URL", () => {
    const hyperdrive = 'postgresql://edge:pw@0123abcd.hyperdrive.local:5432/platform';
    const settings = readEdgeSettings({
      ORIGIN_URL: 'https://api.example.com',
      DATABASE_URL,
      HYPERDRIVE: { connectionString: hyperdrive },
    });
    expect(settings.databaseUrl).toBe(hyperdrive);
    expect(settings.config.DATABASE_URL).toBe(hyperdrive);
  });

  it('names every missing or invalid setting, and never the value of a secret', () => {
    const read = () =>
      readEdgeSettings({ ORIGIN_URL: 'ftp://origin', DATABASE_URL: 'mysql://u:hunter2@h/db' });
    expect(read).toThrow(ConfigError);
    const message = (() => {
      try {
        read();
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain('ORIGIN_URL must be the http(s) URL of the origin server');
    expect(message).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
    expect(message).not.toContain('hunter2');

    expect(() => readEdgeSettings({ ORIGIN_URL: 'https://api.example.com' })).toThrow(
      'bind HYPERDRIVE or set DATABASE_URL',
    );
  });
});
