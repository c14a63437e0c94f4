import { describe, expect, it } from 'vitest';
import { estimateCapacity, MIN_REQUESTS_TO_ESTIMATE } from './capacity';
import { type ResourceSample, ResourceSampler, ratesBetween } from './resource-sampler';

function sample(over: Partial<ResourceSample>): ResourceSample {
  return {
    at: 0,
    cpuSeconds: 0,
    eventLoopActiveMs: null,
    rssBytes: 200_000_000,
    heapUsedBytes: 80_000_000,
    heapTotalBytes: 120_000_000,
    requests: 0,
    queryMs: 0,
    ...over,
  };
}

describe('capacity', () => {
  it('derives throughput, CPU per request and headroom from two samples', () => {
    const from = sample({});
    // 60 s: 60,000 requests (1,000/s) using 30 CPU-seconds (0.5 core) and 6,000 ms of queries.
    const to = sample({ at: 60_000, cpuSeconds: 30, requests: 60_000, queryMs: 6_000 });
    const report = estimateCapacity({
      rates: ratesBetween(from, to),
      pool: { total: 4, idle: 3, waiting: 0, max: 10 },
      latest: to,
      memoryLimitBytes: 1_000_000_000,
    });
    expect(report.throughput.requestsPerSecond).toBe(1000);
    expect(report.cpu.secondsPerRequest).toBeCloseTo(0.0005);
    expect(report.cpu.utilization).toBeCloseTo(0.5);
    // CPU saturates at 1 / 0.0005 = 2,000/s; the database at 10 / (0.1 / 1000) = 100,000/s.
    expect(report.bottleneck).toBe('cpu');
    expect(report.estimatedMaxRequestsPerSecond).toBeCloseTo(2000);
    expect(report.headroom).toBeCloseTo(2);
    expect(report.pool).toMatchObject({ max: 10, inUse: 1, utilization: 0.1 });
    expect(report.pool.busyConnections).toBeCloseTo(0.1);
    expect(report.memory.utilization).toBeCloseTo(0.2);
    expect(report.notes).toContain(
      'this runtime does not report event-loop utilisation; CPU utilisation stands in for it',
    );
  });

  it('names the database when query time binds first', () => {
    const to = sample({ at: 10_000, cpuSeconds: 0.5, requests: 1_000, queryMs: 15_000 });
    const report = estimateCapacity({
      rates: ratesBetween(sample({}), to),
      pool: { total: 2, idle: 0, waiting: 0, max: 2 },
      latest: to,
      memoryLimitBytes: null,
    });
    // 100 rps, 1.5 busy connections: each request holds 15 ms, so 2 connections saturate at ~133/s.
    expect(report.bottleneck).toBe('database');
    expect(report.estimatedMaxRequestsPerSecond).toBeCloseTo(133.33, 1);
    expect(report.headroom).toBeCloseTo(1.333, 2);
  });

  it('refuses to estimate from too little traffic, where idle work would pass for the cost of requests', () => {
    // 60 requests in a minute with a tenth of a core busy with background work: 600 req/s "maximum".
    const to = sample({ at: 60_000, cpuSeconds: 6, requests: 60, queryMs: 600 });
    const report = estimateCapacity({
      rates: ratesBetween(sample({}), to),
      pool: { total: 1, idle: 1, waiting: 0, max: 10 },
      latest: to,
      memoryLimitBytes: null,
    });
    expect(report.requestsInWindow).toBe(60);
    expect(report.minimumRequestsToEstimate).toBe(MIN_REQUESTS_TO_ESTIMATE);
    expect(report).toMatchObject({
      estimatedMaxRequestsPerSecond: null,
      headroom: null,
      bottleneck: null,
      estimateReason: 'not enough traffic to estimate',
    });
    expect(report.resources.map((r) => r.saturationRequestsPerSecond)).toEqual([null, null, null]);
    // What was measured is still reported.
    expect(report.throughput.requestsPerSecond).toBe(1);
    expect(report.cpu.utilization).toBeCloseTo(0.1);
    expect(report.notes[0]).toMatch(/^not enough traffic to estimate: 60 requests in the last 60 s/);
  });

  it('says why it cannot estimate yet, rather than inventing figures', () => {
    const report = estimateCapacity({
      rates: null,
      pool: { total: 0, idle: 0, waiting: 0, max: 10 },
      latest: sample({}),
      memoryLimitBytes: null,
    });
    expect(report.headroom).toBeNull();
    expect(report.bottleneck).toBeNull();
    expect(report.notes[0]).toMatch(/not enough samples/);
  });

  it('samples real CPU and memory of this process', async () => {
    let requests = 0;
    const sampler = new ResourceSampler(
      { requests: () => requests, queryMs: () => 0 },
      { intervalMs: 1_000, retain: 3 },
    );
    sampler.sample();
    const until = Date.now() + 60;
    while (Date.now() < until) requests++; // burn some CPU
    const rates = sampler.rates(10_000);
    expect(rates?.cpuUtilization).toBeGreaterThan(0);
    expect(rates?.requestsPerSecond).toBeGreaterThan(0);
    expect(sampler.history().length).toBe(2);
    expect(sampler.history()[1]?.rssBytes).toBeGreaterThan(0);
  });
});
