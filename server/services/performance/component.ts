import type { PlatformDatabase } from '../../../db/connect';
import { selectProbe } from '../../../db/probe';
import type { Component } from '../../base/initializer';
import type { Logger } from '../../base/logger';
import type { MetricHistory } from './metric-history';
import { readPgStatStatements } from './pg-stat-statements';
import type { QueryMonitor } from './query-monitor';
import type { ResourceSampler } from './resource-sampler';

export interface PerformanceComponentOptions {
  sampler: ResourceSampler;
  history: MetricHistory;
  queries: QueryMonitor;
  database: PlatformDatabase;
  logger: Logger;
}

/**
 * The performance figures that need starting: the resource sampler (capacity, memory growth),
 * the request history's flush timer (stopping stores the minute still running), and pg_stat_statements, created once at start where the server offers it, so that reading
 * it later never needs more than read access. Not critical: without it the platform is blind,
 * not broken.
 */
export function performanceComponent({
  sampler,
  history,
  queries,
  database,
  logger,
}: PerformanceComponentOptions): Component {
  return {
    name: 'performance',
    phase: 'monitoring',
    critical: false,
    async start() {
      sampler.start();
      history.start();
      const report = await readPgStatStatements(database, { limit: 1, createExtension: true });
      if (!report.available) logger.info({ reason: report.reason }, 'pg_stat_statements unavailable');
    },
    async stop() {
      sampler.stop();
      await history.stop();
    },
    selfTests: [
      {
        name: 'a query is timed and grouped by its shape',
        async run() {
          const probe = Math.floor(Math.random() * 1e9);
          const before = queries.totals().count;
          await database.read((db) => selectProbe(db, probe));
          if (queries.totals().count <= before) throw new Error('the query monitor did not see the query');
        },
      },
      {
        name: 'resources are sampled',
        async run() {
          const sample = sampler.sample();
          if (!(sample.rssBytes > 0) || !(sample.cpuSeconds > 0)) throw new Error('no memory or CPU figures');
        },
      },
    ],
  };
}
