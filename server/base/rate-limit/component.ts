import type { Config } from '../config';
import type { Component } from '../initializer';
import type { RateLimitStoreHandle } from './create-store';

/**
 * The rate-limit store. Not critical: while it fails, each policy applies its failure mode
 * (auth routes refuse, the rest admit), so the instance is degraded rather than down.
 */
export function rateLimitComponent(handle: RateLimitStoreHandle, config: Config): Component {
  return {
    name: 'ratelimit',
    phase: 'auth',
    critical: false,
    async start() {
      // Memory and PostgreSQL need nothing; Redis connects in the background and is checked below.
    },
    async stop() {
      await handle.close();
    },
    async health() {
      const time = new Date().toISOString();
      try {
        await handle.store.consume(`health:${Date.now()}`, { limit: 1_000, periodMs: 1_000 });
        return { 'ratelimit:store': [{ componentId: config.RATE_LIMIT_STORE, status: 'pass', time }] };
      } catch (error) {
        const output = error instanceof Error ? error.message : String(error);
        return {
          'ratelimit:store': [{ componentId: config.RATE_LIMIT_STORE, status: 'warn', time, output }],
        };
      }
    },
  };
}
