import type { PlatformDatabase } from '../../../db/connect';
import { AmbiguousCommitError } from '../../../db/connect';
import {
  addApiKeyVerifications,
  deleteApiKeyVerificationsBefore,
} from '../../../db/repositories/api-key-verifications';
import { recordApiKeyUsage } from '../../../db/repositories/api-keys';
import { API_KEY_OUTCOMES, type ApiKeyOutcome } from '../../../shared/api-key-usage';
import type { ApiKeyServiceLogger } from './api-key-types';

export interface ApiKeyUsageOptions {
  database: PlatformDatabase;
  /** How often counts and last uses are written. */
  usageFlushIntervalMs: number;
  /** How long per-minute counts are kept. */
  usageRetentionDays: number;
  logger?: ApiKeyServiceLogger;
}

/** An outcome as the index of its count in a tally: the hot path indexes, never looks up by name. */
export const OUTCOME = Object.freeze(
  Object.fromEntries(API_KEY_OUTCOMES.map((outcome, index) => [outcome, index])) as Record<
    ApiKeyOutcome,
    number
  >,
);

const MINUTE_MS = 60_000;
/** Retention runs on the flush timer, at most this often: a delete by age is not free. */
const PRUNE_INTERVAL_MS = 3_600_000;

/** One key's verifications in one minute, by outcome index, and its last valid use. */
interface Tally {
  minute: number;
  counts: number[];
  /** ms since the epoch; 0 when no valid use since the last flush. */
  lastUsedAt: number;
}

/** A minute a key moved past before the flush: its counts wait with the open tallies. */
interface ClosedTally {
  keyId: string;
  minute: number;
  counts: number[];
}

/**
 * Keys' verifications (per minute and outcome) and last uses, collected in memory and written
 * every few seconds: a verification costs a map lookup and an increment, no write of its own.
 * Instances add their counts into the same rows, so the database holds the sum of all of them.
 */
export class ApiKeyUsage {
  /** Key id → this minute's tally, waiting for the next flush. */
  private tallies = new Map<string, Tally>();
  private closed: ClosedTally[] = [];
  private flushing: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: ApiKeyUsageOptions) {}

  /**
   * Counts a verification of key `id` ending in `outcome` (an OUTCOME index) at `at` (ms since
   * the epoch); a valid one is also the key's last use. Allocates only for a key's first
   * verification in a minute or since the last flush.
   */
  record(id: string, outcome: number, at: number): void {
    const minute = Math.floor(at / MINUTE_MS);
    let tally = this.tallies.get(id);
    if (tally === undefined) {
      tally = { minute, counts: zeros(), lastUsedAt: 0 };
      this.tallies.set(id, tally);
    } else if (tally.minute !== minute) {
      this.closed.push({ keyId: id, minute: tally.minute, counts: tally.counts });
      tally.minute = minute;
      tally.counts = zeros();
    }
    tally.counts[outcome]!++;
    if (outcome === OUTCOME.valid && at > tally.lastUsedAt) tally.lastUsedAt = at;
  }

  /** This instance's last use of key `id` not written yet, if any. */
  unflushed(id: string): number | undefined {
    const at = this.tallies.get(id)?.lastUsedAt;
    return at ? at : undefined;
  }

  /** Starts writing every `usageFlushIntervalMs`, and applying retention (hourly) on the same timer. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.flush()
        .then(() => this.prune())
        .catch((error) => this.warn(error, 'could not record API key usage'));
    }, this.options.usageFlushIntervalMs);
    this.timer.unref?.();
  }

  /** Stops the timer and writes the usage collected so far. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.flush().catch((error) => this.warn(error, 'could not record API key usage'));
  }

  /**
   * Writes the collected counts and last uses in one transaction. On failure they are kept for
   * the next flush, except when the commit's fate is unknown: counting twice is worse than once less.
   */
  async flush(): Promise<void> {
    // One flush at a time: with the database slow, timer ticks must not pile up statements.
    while (this.flushing) await this.flushing.catch(() => undefined);
    if (this.tallies.size === 0 && this.closed.length === 0) return;
    const tallies = this.tallies;
    const closed = this.closed;
    this.tallies = new Map();
    this.closed = [];
    const counts = rowsOf(tallies, closed);
    const used = lastUses(tallies);
    this.flushing = this.options.database
      .transaction(async (trx) => {
        await addApiKeyVerifications(trx, counts);
        await recordApiKeyUsage(trx, used);
      })
      .catch((error) => {
        if (!(error instanceof AmbiguousCommitError)) this.restore(tallies, closed);
        throw error;
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  /** Deletes counts older than the retention, at most hourly. */
  async prune(now = Date.now()): Promise<void> {
    if (performance.now() - this.prunedAt < PRUNE_INTERVAL_MS) return;
    this.prunedAt = performance.now();
    const before = new Date(now - this.options.usageRetentionDays * 86_400_000);
    await deleteApiKeyVerificationsBefore(this.options.database.db, before);
  }

  /** Puts a batch that could not be written back, merged with what came in meanwhile. */
  private restore(tallies: Map<string, Tally>, closed: ClosedTally[]): void {
    for (const [keyId, tally] of tallies) {
      this.closed.push({ keyId, minute: tally.minute, counts: tally.counts });
      if (tally.lastUsedAt) {
        const current = this.tallies.get(keyId);
        if (current === undefined)
          this.tallies.set(keyId, { minute: tally.minute, counts: zeros(), lastUsedAt: tally.lastUsedAt });
        else if (tally.lastUsedAt > current.lastUsedAt) current.lastUsedAt = tally.lastUsedAt;
      }
    }
    this.closed.push(...closed);
  }

  private warn(error: unknown, message: string): void {
    this.options.logger?.warn({ err: { message: (error as Error)?.message ?? String(error) } }, message);
  }
}

function zeros(): number[] {
  return new Array<number>(API_KEY_OUTCOMES.length).fill(0);
}

/** The batch as rows, one per key, minute and outcome (a minute may appear twice if the clock stepped back). */
function rowsOf(tallies: Map<string, Tally>, closed: ClosedTally[]) {
  const sums = new Map<string, number>();
  const add = (keyId: string, minute: number, counts: number[]) => {
    for (let outcome = 0; outcome < counts.length; outcome++) {
      const count = counts[outcome] ?? 0;
      if (count === 0) continue;
      const row = `${keyId} ${minute} ${outcome}`;
      sums.set(row, (sums.get(row) ?? 0) + count);
    }
  };
  for (const entry of closed) add(entry.keyId, entry.minute, entry.counts);
  for (const [keyId, tally] of tallies) add(keyId, tally.minute, tally.counts);
  const rows = {
    keyIds: [] as string[],
    minutes: [] as string[],
    outcomes: [] as string[],
    counts: [] as number[],
  };
  for (const [row, count] of sums) {
    const [keyId = '', minute = '0', outcome = '0'] = row.split(' ');
    rows.keyIds.push(keyId);
    rows.minutes.push(new Date(Number(minute) * MINUTE_MS).toISOString());
    rows.outcomes.push(API_KEY_OUTCOMES[Number(outcome)] ?? 'valid');
    rows.counts.push(count);
  }
  return rows;
}

function lastUses(tallies: Map<string, Tally>): { ids: string[]; usedAt: string[] } {
  const ids: string[] = [];
  const usedAt: string[] = [];
  for (const [id, tally] of tallies) {
    if (tally.lastUsedAt === 0) continue;
    ids.push(id);
    usedAt.push(new Date(tally.lastUsedAt).toISOString());
  }
  return { ids, usedAt };
}
