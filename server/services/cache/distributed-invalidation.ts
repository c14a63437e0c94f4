import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { PlatformDatabase } from '../../../db/connect';
import { type ChangeFeed, publishChange } from '../../base/change-feed';
import type { Cache } from './cache';

/** The change-feed channel on which instances tell each other what to forget. */
export const CACHE_INVALIDATIONS = 'cache_invalidations';

/** What to forget: one key, every entry under a tag, or everything. */
export type CacheInvalidation = { kind: 'key'; key: string } | { kind: 'tag'; tag: string } | { kind: 'all' };

export interface DistributedInvalidationOptions {
  cache: Cache;
  /** The LISTEN/NOTIFY connection shared with auth (deps.auth.changes). */
  feed: ChangeFeed;
  /** Where invalidations are published (pg_notify through the pool). */
  database: PlatformDatabase;
  /** Tells this instance's own notifications apart from others'; a random UUID by default. */
  instanceId?: string;
  logger?: { warn(object: object, message: string): void };
}

export interface InvalidationStats {
  /** Invalidations this instance sent. */
  published: number;
  publishFailures: number;
  /** Invalidations from other instances applied here. */
  received: number;
  /** This instance's own notifications, coming back through LISTEN and skipped. */
  ownSkipped: number;
  /** Payloads this version could not read, each answered by clearing the cache. */
  unreadable: number;
  /** Clears after the feed reconnected, when notifications may have been missed. */
  reconnectClears: number;
}

// pg_notify refuses payloads of 8000 bytes or more (the change feed checks the same bound).
const MAX_PAYLOAD_BYTES = 7_999;

const wireMessage = z.discriminatedUnion('kind', [
  z.object({ v: z.literal(1), from: z.string(), kind: z.literal('key'), key: z.string() }),
  z.object({ v: z.literal(1), from: z.string(), kind: z.literal('tag'), tag: z.string() }),
  z.object({ v: z.literal(1), from: z.string(), kind: z.literal('all') }),
]);

/**
 * Invalidations that reach every instance sharing the database: applied here at once, then
 * published on the change feed for the others. PostgreSQL LISTEN/NOTIFY is the only transport,
 * REDIS_URL or not: every instance already holds that connection for auth and is not ready
 * without it, while Redis pub/sub would be a second connection to watch for the same guarantee.
 */
export class DistributedInvalidation {
  readonly instanceId: string;
  private readonly options: DistributedInvalidationOptions;
  private readonly counters: InvalidationStats = {
    published: 0,
    publishFailures: 0,
    received: 0,
    ownSkipped: 0,
    unreadable: 0,
    reconnectClears: 0,
  };

  constructor(options: DistributedInvalidationOptions) {
    this.options = options;
    this.instanceId = options.instanceId ?? randomUUID();
    // Subscribed at construction, as the API-key cache does: the feed listens on every channel
    // subscribed before it starts, and on later ones as they come.
    options.feed.subscribe(CACHE_INVALIDATIONS, (payload) => this.receive(payload));
    // Notifications sent while the connection was down are lost: any entry may be out of date.
    options.feed.onReconnect(() => {
      this.options.cache.clear();
      this.counters.reconnectClears++;
    });
  }

  /**
   * Forgets `target` here, then tells the other instances. Call it after the change that makes
   * the entries wrong has committed, or this instance could load the old value again meanwhile.
   * Throws when publishing fails: this instance has forgotten, the others have not been told.
   */
  async invalidate(target: CacheInvalidation): Promise<{ removed: number }> {
    const removed = this.apply(target);
    try {
      await this.options.database.transaction(
        (trx) => publishChange(trx, CACHE_INVALIDATIONS, this.encode(target)),
        // Sending an invalidation twice forgets nothing more: a retry after an ambiguous commit is safe.
        { idempotent: true },
      );
    } catch (error) {
      this.counters.publishFailures++;
      throw error;
    }
    this.counters.published++;
    return { removed };
  }

  stats(): InvalidationStats {
    return { ...this.counters };
  }

  private apply(target: CacheInvalidation): number {
    const { cache } = this.options;
    if (target.kind === 'key') return cache.delete(target.key) ? 1 : 0;
    if (target.kind === 'tag') return cache.invalidateTag(target.tag);
    return cache.clear();
  }

  private encode(target: CacheInvalidation): string {
    const payload = JSON.stringify({ v: 1, from: this.instanceId, ...target });
    // A key too long for one notification: clearing everything elsewhere is always correct.
    if (Buffer.byteLength(payload, 'utf8') > MAX_PAYLOAD_BYTES)
      return JSON.stringify({ v: 1, from: this.instanceId, kind: 'all' });
    return payload;
  }

  private receive(payload: string): void {
    let message: z.infer<typeof wireMessage>;
    try {
      message = wireMessage.parse(JSON.parse(payload));
    } catch {
      // A newer version's message, or garbage: forgetting everything is never wrong, only slower.
      this.counters.unreadable++;
      this.options.cache.clear();
      // The payload is not logged: a key may name a user or an organization.
      this.options.logger?.warn(
        { channel: CACHE_INVALIDATIONS },
        'unreadable cache invalidation, cache cleared',
      );
      return;
    }
    if (message.from === this.instanceId) {
      this.counters.ownSkipped++;
      return;
    }
    this.counters.received++;
    if (message.kind === 'key') this.apply({ kind: 'key', key: message.key });
    else if (message.kind === 'tag') this.apply({ kind: 'tag', tag: message.tag });
    else this.apply({ kind: 'all' });
  }
}
