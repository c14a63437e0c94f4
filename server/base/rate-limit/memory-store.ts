import { gcra, type RateLimitDecision, type RateLimitPolicy } from './gcra';
import type { RateLimitStore } from './store';

export interface MemoryRateLimitStoreOptions {
  /** Most keys kept; beyond it expired keys are swept, then the least recently used dropped. */
  maxKeys?: number;
}

/**
 * Rate-limit state in this process's memory. Right for one instance only: several instances
 * each admit the full limit. Atomic because a consume never awaits between reading and writing.
 */
export class MemoryRateLimitStore implements RateLimitStore {
  // Insertion order is use order (an updated key is re-inserted), so the first key is the
  // least recently used.
  readonly inProcess = true;
  private readonly tats = new Map<string, number>();
  private readonly maxKeys: number;

  constructor({ maxKeys = 100_000 }: MemoryRateLimitStoreOptions = {}) {
    if (!Number.isInteger(maxKeys) || maxKeys < 1)
      throw new RangeError(`maxKeys must be positive: ${maxKeys}`);
    this.maxKeys = maxKeys;
  }

  async consume(
    key: string,
    policy: RateLimitPolicy,
    cost = 1,
    now = Date.now(),
  ): Promise<RateLimitDecision> {
    const { newTat, decision } = gcra(this.tats.get(key) ?? null, now, policy, cost);
    if (newTat !== null && decision.allowed) {
      this.tats.delete(key);
      if (this.tats.size >= this.maxKeys) this.evict(now);
      this.tats.set(key, newTat);
    }
    return decision;
  }

  /** Keys held now. */
  get size(): number {
    return this.tats.size;
  }

  /**
   * Runs when the map is full. A key whose TAT has passed is indistinguishable from an unknown key, so dropping it loses
   * nothing. Dropping a live key forgives its debt: under a flood of distinct keys that is the
   * price of bounded memory, and it falls on the least recently seen key.
   */
  private evict(now: number): void {
    for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
    if (this.tats.size < this.maxKeys) return;
    // Down to 90% rather than to one below the bound, so that a flood of live keys pays for a
    // sweep once per tenth of the map, not at every insert.
    const target = Math.floor(this.maxKeys * 0.9);
    while (this.tats.size > target) {
      const oldest = this.tats.keys().next();
      if (oldest.done) break;
      this.tats.delete(oldest.value);
    }
  }
}
