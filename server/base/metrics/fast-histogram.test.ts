import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FastHistogram } from './fast-histogram';

function build() {
  const registry = new client.Registry();
  const histogram = new FastHistogram({
    name: 'demo_duration_seconds',
    help: 'Demo.',
    labelNames: ['route', 'status_code'],
    buckets: [0.01, 0.1, 1],
  });
  registry.registerMetric(histogram as never);
  registry.registerMetric(histogram.countsAsCounter('demo_calls_total', 'Demo calls.') as never);
  return { registry, histogram };
}

describe('FastHistogram', () => {
  it('renders the same text format as a prom-client histogram: cumulative buckets, sum and count', async () => {
    const { registry, histogram } = build();
    const referenceRegistry = new client.Registry();
    const reference = new client.Histogram({
      name: 'demo_duration_seconds',
      help: 'Demo.',
      labelNames: ['route', 'status_code'],
      buckets: [0.01, 0.1, 1],
      registers: [referenceRegistry],
    });
    for (const seconds of [0.005, 0.01, 0.05, 0.5, 2]) {
      histogram.observe('/a 200', () => ['/a', 200], seconds);
      reference.observe({ route: '/a', status_code: 200 }, seconds);
    }
    const ours = (await registry.getSingleMetricAsString('demo_duration_seconds')).trim();
    const theirs = (await referenceRegistry.getSingleMetricAsString('demo_duration_seconds')).trim();
    expect(ours).toBe(theirs);
  });

  it('keeps one series per key and counts calls beside the durations', async () => {
    const { registry, histogram } = build();
    let labelBuilds = 0;
    for (let i = 0; i < 100; i++) {
      histogram.observe(
        '/a 200',
        () => {
          labelBuilds++;
          return ['/a', 200];
        },
        0.001,
      );
    }
    histogram.observe('/a 500', () => ['/a', 500], 0.2);
    expect(labelBuilds).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain('demo_calls_total{route="/a",status_code="200"} 100');
    expect(text).toContain('demo_calls_total{route="/a",status_code="500"} 1');
    expect(text).toContain('demo_duration_seconds_bucket{le="0.01",route="/a",status_code="200"} 100');
    expect(text).toContain('demo_duration_seconds_bucket{le="1",route="/a",status_code="500"} 1');
    expect(histogram.totals()).toHaveLength(2);
  });
});
