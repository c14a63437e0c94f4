import { randomUUID } from 'node:crypto';
import type { Config } from '../../base/config';
import type { Component } from '../../base/initializer';
import type { Logger } from '../../base/logger';
import type { RateLimiter } from '../../base/rate-limit/limiter';
import { startKeyMaintenance } from './key-maintenance';
import { hashPassword, verifyPassword } from './passwords';
import type { AuthServices } from './services';

/** How often signing keys are reloaded, rotated when due and retired: well within a token's life. */
const KEY_MAINTENANCE_INTERVAL_MS = 60_000;

/**
 * The auth phase: the change feed between instances, the signing keys, the revoked-session list,
 * the API-key cache and the first admin. Critical: without signing keys nobody can sign in, and
 * without the change feed a revoked key could go on working on other instances.
 */
export function authComponent(
  auth: AuthServices,
  limiter: RateLimiter,
  config: Config,
  logger: Logger,
): Component {
  let maintenance: { stop(): void } | null = null;
  let subscribed = false;
  const revocationWindowMs =
    (config.AUTH_ACCESS_TOKEN_TTL_SECONDS + config.AUTH_CLOCK_TOLERANCE_SECONDS) * 1000;

  async function loadRevokedSessions(): Promise<void> {
    const since = new Date(Date.now() - revocationWindowMs);
    const revoked = await auth.sessions.revokedSessionIdsSince(since);
    auth.revokedSessions.replace(revoked.map((session) => session.id));
  }

  function subscribe(): void {
    if (subscribed) return;
    subscribed = true;
    auth.changes.subscribe('session_revocations', (sessionId) => auth.revokedSessions.add(sessionId));
    auth.changes.subscribe('signing_key_changes', () => {
      auth.keyring.load().catch((error) => logger.warn({ err: error }, 'reloading signing keys failed'));
    });
    // Notifications sent while the feed was down are lost: read the state again instead.
    auth.changes.onReconnect(() => {
      loadRevokedSessions().catch((error) =>
        logger.warn({ err: error }, 'reloading revoked sessions failed'),
      );
      auth.keyring.load().catch((error) => logger.warn({ err: error }, 'reloading signing keys failed'));
    });
  }

  return {
    name: 'auth',
    phase: 'auth',
    critical: true,
    async start() {
      subscribe();
      await auth.changes.start();
      await auth.keyring.load();
      await loadRevokedSessions();
      auth.apiKeys.start();
      if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
        const admin = await auth.users.ensureAdmin({
          email: config.ADMIN_EMAIL,
          password: config.ADMIN_PASSWORD,
          organizationName: 'Default organization',
        });
        if (admin.created) logger.info({ userId: admin.userId }, 'first admin created from ADMIN_EMAIL');
      }
      maintenance ??= startKeyMaintenance(auth.keyring, { intervalMs: KEY_MAINTENANCE_INTERVAL_MS, logger });
    },
    async stop() {
      maintenance?.stop();
      maintenance = null;
      await auth.apiKeys.stop();
      await auth.changes.stop();
    },
    async health() {
      const status = auth.keyring.status();
      const time = new Date().toISOString();
      return {
        'auth:signingKey': [
          {
            componentId: status.currentKid ?? 'none',
            componentType: 'component',
            status: status.currentKid ? 'pass' : 'fail',
            observedValue: status.verificationKids.length,
            observedUnit: 'keys',
            time,
          },
        ],
        'auth:changeFeed': [
          {
            componentType: 'component',
            status: auth.changes.connected ? 'pass' : 'warn',
            observedValue: auth.changes.connected,
            time,
            ...(auth.changes.connected
              ? {}
              : { output: 'not listening: caches are bypassed until it reconnects' }),
          },
        ],
      };
    },
    selfTests: [
      {
        name: 'sign an access token and verify it',
        async run() {
          const { token } = await auth.keyring.signAccessToken({
            sub: randomUUID(),
            org: randomUUID(),
            role: 'viewer',
            sid: randomUUID(),
          });
          await auth.keyring.verifyAccessToken(token);
          const forged = `${token.slice(0, -4)}${token.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
          const refused = await auth.keyring.verifyAccessToken(forged).then(
            () => false,
            () => true,
          );
          if (!refused) throw new Error('a token with an altered signature was accepted');
        },
      },
      {
        name: 'hash a password and verify it',
        async run() {
          const password = randomUUID();
          const hash = await hashPassword(password, auth.passwordParams);
          if (!(await verifyPassword(password, hash, auth.passwordParams)).ok)
            throw new Error('a password does not verify against its own hash');
          if ((await verifyPassword(`${password}x`, hash, auth.passwordParams)).ok)
            throw new Error('a wrong password verified');
        },
      },
      {
        name: 'an unknown API key is refused',
        async run() {
          const result = await auth.apiKeys.verify(`bc_test_${randomUUID().replaceAll('-', '')}`, {});
          if (result.code !== 'NOT_FOUND') throw new Error(`an unknown key verified as ${result.code}`);
        },
      },
      {
        name: 'the change feed is listening',
        async run() {
          if (!auth.changes.connected) throw new Error('the LISTEN connection is down');
        },
      },
      {
        name: 'the rate-limit store decides',
        async run() {
          const outcome = await limiter.check('ip', `self-test:${randomUUID()}`);
          if (outcome.storeFailed) throw new Error('the rate-limit store did not answer');
          if (!outcome.allowed) throw new Error('a fresh key was refused');
        },
      },
    ],
  };
}
