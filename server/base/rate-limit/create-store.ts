import type { Kysely } from 'kysely';
import type { Database } from '../../../db/database';
import { type Config, ConfigError } from '../config';
import type { Logger } from '../logger';
import { MemoryRateLimitStore } from './memory-store';
import { PostgresRateLimitStore } from './postgres-store';
import { createRateLimitRedisClient, RedisRateLimitStore } from './redis-store';
import type { RateLimitStore } from './store';

export interface RateLimitStoreHandle {
  store: RateLimitStore;
  /** Releases what the store opened itself (the Redis connection); the database stays the caller's. */
  close(): Promise<void>;
}

/**
 * The store RATE_LIMIT_STORE names: `memory` (this instance only), `postgres` (shared, in the
 * platform's database) or `redis` (shared, at REDIS_URL). Throws ConfigError for `redis` without
 * REDIS_URL. The Redis client connects in the background: until it does, and whenever Redis is
 * unreachable, consumes fail and the limiter applies each policy's failure mode.
 */
export function createRateLimitStore(
  config: Pick<Config, 'RATE_LIMIT_STORE' | 'REDIS_URL'>,
  { db, logger }: { db: Kysely<Database>; logger?: Logger },
): RateLimitStoreHandle {
  switch (config.RATE_LIMIT_STORE) {
    case 'memory':
      return { store: new MemoryRateLimitStore(), close: async () => undefined };
    case 'postgres':
      return { store: new PostgresRateLimitStore(db), close: async () => undefined };
    case 'redis': {
      if (!config.REDIS_URL)
        throw new ConfigError('invalid configuration: REDIS_URL is required when RATE_LIMIT_STORE is redis');
      const client = createRateLimitRedisClient(config.REDIS_URL);
      // ioredis emits 'error' at every failed reconnect; one line per outage is enough here, and
      // the limiter reports the failed requests themselves.
      let reported = false;
      client.on('error', (error: Error) => {
        if (reported) return;
        reported = true;
        logger?.warn({ err: error }, 'rate-limit Redis unreachable; reconnecting');
      });
      client.on('ready', () => {
        if (reported) logger?.info('rate-limit Redis reachable again');
        reported = false;
      });
      return {
        store: new RedisRateLimitStore(client),
        async close() {
          // quit() lets commands in flight finish; disconnect() when the connection is already gone.
          await client.quit().catch(() => client.disconnect());
        },
      };
    }
  }
}
