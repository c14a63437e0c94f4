import { createReadStream } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SPOOL_PARTIAL_PREFIX } from '../../../../db/backup/wal-archiving';
import type { Logger } from '../../../base/logger';
import type { ObjectStore } from './object-store';
import { sealObject } from './sealed-object';

/** The store's key of an archived WAL file (a segment, a timeline history, a backup history). */
export const walKey = (file: string) => `wal/${file}`;

/** Names PostgreSQL gives what it archives; anything else in the spool is not shipped. */
const WAL_FILE = /^[0-9A-F]{24}(\.partial|\.[0-9A-F]{8}\.backup)?$|^[0-9A-F]{8}\.history$/;

export interface ShipperFigures {
  /** Files in the spool not yet in the store. */
  pending: number;
  /** Age of the oldest of them, in seconds (0 when none). */
  oldestPendingSeconds: number;
  shipped: number;
  failures: number;
  lastShipped: { file: string; at: Date } | null;
  lastError: { message: string; at: Date } | null;
}

/** The figures before a first round (and of an installation without point-in-time recovery). */
export const NOTHING_SHIPPED: Readonly<ShipperFigures> = {
  pending: 0,
  oldestPendingSeconds: 0,
  shipped: 0,
  failures: 0,
  lastShipped: null,
  lastError: null,
};

/**
 * Ships what PostgreSQL archived into the spool (db/backup/wal-archiving.ts) to the backup store,
 * oldest name first, each sealed (sealed-object.ts), and deletes it from the spool once stored.
 * A store that fails keeps the files in the spool and is tried again on the next round; nothing
 * leaves the spool before the store has it.
 */
export class WalShipper {
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;
  private figures: ShipperFigures = { ...NOTHING_SHIPPED };

  constructor(
    private readonly options: {
      spoolDir: string;
      store: ObjectStore;
      kek: Uint8Array;
      logger: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.shipNow(), this.options.intervalMs);
    this.timer.unref();
    void this.shipNow();
  }

  /** Stops the rounds and ships what is in the spool once more (bounded by the caller). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.shipNow();
  }

  /** One round now (or the one under way): every file in the spool, oldest first. */
  shipNow(): Promise<void> {
    this.round ??= this.ship().finally(() => {
      this.round = null;
    });
    return this.round;
  }

  current(): ShipperFigures {
    return { ...this.figures };
  }

  private async ship(): Promise<void> {
    const { spoolDir, store, kek, logger } = this.options;
    let files = await this.spooled();
    for (const file of files) {
      const key = walKey(file);
      try {
        await store.put(key, sealObject(createReadStream(join(spoolDir, file)), kek, key));
        await rm(join(spoolDir, file), { force: true });
        this.figures.shipped++;
        this.figures.lastShipped = { file, at: new Date() };
      } catch (error) {
        this.figures.failures++;
        this.figures.lastError = { message: (error as Error).message, at: new Date() };
        logger.warn(
          { err: error, file, store: store.where },
          'a WAL file could not be shipped to the backup store',
        );
        break; // in order: the next round starts again from this one
      }
    }
    files = await this.spooled();
    this.figures.pending = files.length;
    this.figures.oldestPendingSeconds = files.length > 0 ? await this.ageOf(files[0]!) : 0;
  }

  private async spooled(): Promise<string[]> {
    const names = await readdir(this.options.spoolDir).catch(() => [] as string[]);
    return names.filter((name) => !name.startsWith(SPOOL_PARTIAL_PREFIX) && WAL_FILE.test(name)).sort();
  }

  private async ageOf(file: string): Promise<number> {
    const info = await stat(join(this.options.spoolDir, file)).catch(() => null);
    return info ? Math.max(0, (Date.now() - info.mtimeMs) / 1000) : 0;
  }
}
