import { randomUUID } from 'node:crypto';
import type { PlatformDatabase } from '../../../db/connect';
import { migrateToLatest } from '../../../db/migrate';
import { deleteScratch, readScratch, writeScratch } from '../../../db/repositories/self-test';
import type { Config } from '../../base/config';
import type { Component } from '../../base/initializer';
import type { Logger } from '../../base/logger';
import { databaseResponseTime } from './response-time';

/**
 * The database component: reachable (with backoff), migrated, then watched by a periodic
 * health check. Critical: the instance is not ready without it.
 */
export function databaseComponent(database: PlatformDatabase, config: Config, logger: Logger): Component {
  return {
    name: 'database',
    phase: 'database',
    critical: true,
    async start(signal) {
      await database.connect(signal);
      const { results } = await migrateToLatest(database.db);
      for (const r of results ?? [])
        logger.info({ migration: r.migrationName, status: r.status }, 'migration');
      database.startHealthChecks(config.DB_HEALTH_INTERVAL_MS, config.HEALTH_DB_TIMEOUT_MS);
    },
    async stop() {
      database.stopHealthChecks();
    },
    async health() {
      const time = new Date().toISOString();
      const latencyMs = await database.ping(config.HEALTH_DB_TIMEOUT_MS);
      const stats = database.stats();
      const used = stats.total - stats.idle;
      return {
        'database:responseTime': [databaseResponseTime(latencyMs, time)],
        'database:connections': [
          {
            componentId: 'postgresql',
            componentType: 'datastore',
            // Callers queued for a connection mean the pool is saturated.
            status: stats.waiting > 0 ? 'warn' : 'pass',
            observedValue: used,
            observedUnit: `of ${stats.max}`,
            time,
          },
        ],
      };
    },
    selfTests: [
      {
        name: 'pool acquire',
        async run() {
          const client = await database.pool.connect();
          client.release();
        },
      },
      {
        name: 'write, read and delete a row',
        async run() {
          const id = randomUUID();
          const payload = `self-test ${new Date().toISOString()}`;
          await writeScratch(database.db, id, payload);
          // Delete before judging the read, so a failed comparison leaves no row behind.
          const read = await readScratch(database.db, id).finally(() => deleteScratch(database.db, id));
          if (read !== payload) throw new Error('the row read back differs from the row written');
          if ((await readScratch(database.db, id)) !== undefined)
            throw new Error('the deleted row is still there');
        },
      },
    ],
  };
}
