import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { bindDeploymentMetrics, type DeploymentStatusFigure } from './metrics';

describe('bindDeploymentMetrics', () => {
  it('reads the figures once for both gauges, at most once per maxAge, and keeps the last ones when the database cannot answer', async () => {
    const registry = new Registry();
    const errors: unknown[] = [];
    let now = 0;
    let reads = 0;
    let answer: () => DeploymentStatusFigure[] = () => [
      { status: 'progressing', count: 2, lastFinishedAt: null },
      { status: 'rolled_back', count: 1, lastFinishedAt: new Date(1_700_000_000_000) },
    ];
    bindDeploymentMetrics(
      registry,
      {
        figures: async () => {
          reads++;
          return answer();
        },
        onError: (error) => errors.push(error),
      },
      { maxAgeMs: 1_000, now: () => now },
    );

    const first = await registry.metrics();
    expect(reads).toBe(1);
    expect(first).toContain('deployments{status="progressing"} 2');
    expect(first).toContain('deployments{status="pending"} 0');
    expect(first).toContain('deployment_last_finished_timestamp_seconds{status="rolled_back"} 1700000000');
    expect(first).toContain('deployment_last_finished_timestamp_seconds{status="promoted"} 0');

    now = 500;
    await registry.metrics();
    expect(reads).toBe(1);

    now = 1_500;
    answer = () => {
      throw new Error('connection refused');
    };
    const second = await registry.metrics();
    expect(reads).toBe(2);
    expect(errors).toHaveLength(1);
    expect(second).toContain('deployments{status="progressing"} 2');
    expect(second).toContain('deployment_last_finished_timestamp_seconds{status="rolled_back"} 1700000000');
  });

  it('never holds a scrape longer than waitMs: a database that does not answer leaves the last figures', async () => {
    const registry = new Registry();
    let now = 0;
    let hang = false;
    bindDeploymentMetrics(
      registry,
      {
        figures: () =>
          hang
            ? new Promise<DeploymentStatusFigure[]>(() => {})
            : Promise.resolve([{ status: 'promoted', count: 3, lastFinishedAt: null }]),
        onError: () => {},
      },
      { maxAgeMs: 1_000, waitMs: 50, now: () => now },
    );
    expect(await registry.metrics()).toContain('deployments{status="promoted"} 3');

    hang = true;
    now = 5_000;
    // The read never ends: that the scrape answers at all is the point (it waited waitMs).
    const text = await registry.metrics();
    expect(text).toContain('deployments{status="promoted"} 3');
  });
});
