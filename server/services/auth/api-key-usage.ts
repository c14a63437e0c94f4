import type { PlatformDatabase } from '../../../db/connect';
import { recordApiKeyUsage } from '../../../db/repositories/api-keys';
import type { ApiKeyServiceLogger } from './api-key-types';

export interface ApiKeyUsageOptions {
  database: PlatformDatabase;
  /** How often last_used_at is written. */
  usageFlushIntervalMs: number;
  logger?: ApiKeyServiceLogger;
}

/**
 * Keys' last uses, collected in memory and written to last_used_at in batches: a verification
 * costs no write of its own.
 */
export class ApiKeyUsage {
  /** Key id → last use (ms since the epoch), waiting for the next flush. */
  private pending = new Map<string, number>();
  private flushing: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly options: ApiKeyUsageOptions) {}

  /** Notes a use of key `id` at `at` (ms since the epoch), to be written by the next flush. */
  record(id: string, at: number): void {
    this.pending.set(id, at);
  }

  /** This instance's last use of key `id` not written yet, if any. */
  unflushed(id: string): number | undefined {
    return this.pending.get(id);
  }

  /** Starts writing last_used_at every `usageFlushIntervalMs`. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flush().catch((error) => this.warn(error, 'could not record API key usage'));
    }, this.options.usageFlushIntervalMs);
    this.timer.unref?.();
  }

  /** Stops the timer and writes the usage collected so far. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush().catch((error) => this.warn(error, 'could not record API key usage'));
  }

  /** Writes the collected last uses in one statement. Called by the timer `start()` sets. */
  async flush(): Promise<void> {
    // One statement at a time: with the database slow, timer ticks must not pile up statements.
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    const usedAt = ids.map((id) => new Date(batch.get(id) ?? 0).toISOString());
    this.flushing = recordApiKeyUsage(this.options.database.db, { ids, usedAt })
      .catch((error) => {
        // Put back what a newer use has not superseded, for the next flush.
        for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
        throw error;
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  private warn(error: unknown, message: string): void {
    this.options.logger?.warn({ err: { message: (error as Error)?.message ?? String(error) } }, message);
  }
}
