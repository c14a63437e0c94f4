import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { bindDeploymentMetrics, type DeploymentStatusFigure } from './metrics';

describe('bindDeploymentMetrics', () => {
  it('reads the figures once per scrape and keeps the last ones when the database cannot answer', async () => {
    const registry = new Registry();
    const errors: unknown[] = [];
    let reads = 0;
    let answer: () => DeploymentStatusFigure[] = () => [
      { status: 'progressing', count: 2, lastFinishedAt: null },
      { status: 'rolled_back', count: 1, lastFinishedAt: new Date(1_700_000_000_000) },
    ];
    bindDeploymentMetrics(registry, {
      figures: async () => {
        reads++;
        return answer();
      },
      onError: (error) => errors.push(error),
    });

    const first = await registry.metrics();
    expect(reads).toBe(1);
    expect(first).toContain('deployments{status="progressing"} 2');
    expect(first).toContain('deployments{status="pending"} 0');
    expect(first).toContain('deployment_last_finished_timestamp_seconds{status="rolled_back"} 1700000000');
    expect(first).toContain('deployment_last_finished_timestamp_seconds{status="promoted"} 0');

    answer = () => {
      throw new Error('connection refused');
    };
    const second = await registry.metrics();
    expect(errors).toHaveLength(1);
    expect(second).toContain('deployments{status="progressing"} 2');
    expect(second).toContain('deployment_last_finished_timestamp_seconds{status="rolled_back"} 1700000000');
  });
});
