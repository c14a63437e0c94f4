import client, { type Registry } from 'prom-client';
import { DEPLOYMENT_STATUSES, type DeploymentStatus } from '../../../shared/devops-deployments';
import { ScrapeFigures } from '../../base/metrics/scrape-figures';

/** One status's figures, as `deploymentStatusFigures` (repository.ts) reads them. */
export interface DeploymentStatusFigure {
  status: DeploymentStatus;
  count: number;
  lastFinishedAt: Date | null;
}

/** The statuses a deployment ends in: only these have a finish time. */
const FINISHED: readonly DeploymentStatus[] = ['promoted', 'aborted', 'rolled_back', 'failed'];

/**
 * Deployment gauges, read from the database at scrape time (at most every 10 s, never holding a
 * scrape for long: see ScrapeFigures; every instance reports the same
 * database-wide figures, as the backup gauges do; dashboards take `max`, not `sum`, across
 * instances): how many deployments are in each status, and when the latest one to end in each
 * finished status finished (0 when none has). Every status is always exported, so a panel over
 * `deployments{status="progressing"}` shows 0 rather than no data.
 */
export function bindDeploymentMetrics(
  registry: Registry,
  source: {
    figures(): Promise<DeploymentStatusFigure[]>;
    /** Told when the database cannot answer; the scrape then carries the last figures read. */
    onError(error: unknown): void;
  },
  options: { maxAgeMs?: number; waitMs?: number; now?: () => number } = {},
): void {
  // Both gauges come from one read: prom-client collects them one after the other.
  const figures = new ScrapeFigures<DeploymentStatusFigure[]>({
    read: () => source.figures(),
    initial: [],
    onError: (error) => source.onError(error),
    ...options,
  });
  const read = () => figures.get();
  const figureOf = (figures: DeploymentStatusFigure[], status: DeploymentStatus) =>
    figures.find((f) => f.status === status);

  new client.Gauge({
    name: 'deployments',
    help: 'Deployments in the database (all organizations), by status.',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const figures = await read();
      for (const status of DEPLOYMENT_STATUSES) this.set({ status }, figureOf(figures, status)?.count ?? 0);
    },
  });
  new client.Gauge({
    name: 'deployment_last_finished_timestamp_seconds',
    help: 'When the latest deployment to end in each finished status finished, in seconds since the epoch (0: none yet).',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      const figures = await read();
      for (const status of FINISHED) {
        const at = figureOf(figures, status)?.lastFinishedAt;
        this.set({ status }, at ? at.getTime() / 1000 : 0);
      }
    },
  });
}
