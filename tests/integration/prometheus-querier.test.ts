import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboundPolicy } from '../../server/base/outbound/index';
import { PrometheusQuerier } from '../../server/services/deployments/prometheus-querier';
import {
  parsePrometheusText,
  TargetMetricsQuerier,
} from '../../server/services/deployments/target-metrics-querier';
import { prometheusSkipReason, startTestPrometheus, type TestPrometheus } from '../helpers/prometheus-server';

/** A tiny HTTP service exposing prom-client metrics on /metrics, as the deployed services do. */
async function startMetricsService() {
  const registry = new client.Registry();
  const requests = new client.Counter({
    name: 'test_requests_total',
    help: 'Requests served, by version.',
    labelNames: ['version'],
    registers: [registry],
  });
  const ticks = new client.Counter({
    name: 'test_ticks_total',
    help: 'Fifty a second.',
    registers: [registry],
  });
  const resets = new client.Counter({
    name: 'test_resets_total',
    help: 'Reset by tests.',
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'test_duration_seconds',
    help: 'Request durations.',
    registers: [registry],
  });
  const inFlight = new client.Gauge({
    name: 'test_in_flight',
    help: 'Requests in flight.',
    registers: [registry],
  });
  // Counted from the wall clock, not per timer tick: the rate is exactly 50/s however late timers run.
  const startedAt = Date.now();
  let counted = 0;
  const ticker = setInterval(() => {
    const due = Math.floor(((Date.now() - startedAt) / 1000) * 50);
    ticks.inc(due - counted);
    counted = due;
  }, 20);
  const server = createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(await registry.metrics());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    registry,
    requests,
    resets,
    duration,
    inFlight,
    hostPort: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/metrics`,
    async close() {
      clearInterval(ticker);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

type Service = Awaited<ReturnType<typeof startMetricsService>>;

// The services and Prometheus listen on 127.0.0.1: allowed explicitly.
const outbound = createOutboundPolicy({ allow: { metrics: ['127.0.0.0/8'] } });
const context = { deploymentId: '7d1f0e4a-0000-4000-8000-000000000001', version: '2.0.0' };
let service: Service;
let second: Service;

beforeAll(async () => {
  service = await startMetricsService();
  second = await startMetricsService();
  service.requests.inc({ version: '1.0.0' }, 30);
  service.requests.inc({ version: '2.0.0' }, 12);
  for (let i = 0; i < 100; i++) service.duration.observe(0.05);
  service.inFlight.set(3);
});
afterAll(async () => {
  await service?.close();
  await second?.close();
});

/** Asks `probe` every 250 ms until it answers something `accept`s; then returns that answer. */
async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no acceptable answer in time; last ${String(last)}, last error ${String(lastError)}`);
}

describe('PrometheusQuerier against a real Prometheus', () => {
  const skip = prometheusSkipReason();
  let prometheus: TestPrometheus;
  let querier: PrometheusQuerier;

  beforeAll(async () => {
    if (skip) return;
    prometheus = await startTestPrometheus({ targets: [service.hostPort] });
    console.log(`prometheus ready in ${prometheus.startupMs} ms`);
    querier = new PrometheusQuerier({ url: prometheus.url, timeoutMs: 5_000, outbound });
  });
  afterAll(() => prometheus?.stop());

  it.skipIf(skip)('answers sum(test_requests_total) with the counter once it is scraped', async () => {
    const started = Date.now();
    const value = await eventually(
      () => querier.query('sum(test_requests_total)', context),
      (v) => v !== null,
    );
    console.log(`first scrape visible to queries after ${Date.now() - started} ms`);
    expect(value).toBe(42);
  });

  it.skipIf(skip)(
    'fills {{version}} into a label matcher, escaped so a crafted version cannot rewrite the query',
    async () => {
      await eventually(
        () => querier.query('sum(test_requests_total)', context),
        (v) => v === 42,
      );
      expect(await querier.query('sum(test_requests_total{version="{{version}}"})', context)).toBe(12);
      expect(
        await querier.query('sum(test_requests_total{version="{{version}}"})', {
          ...context,
          version: '1.0.0',
        }),
      ).toBe(30);
      const crafted = { ...context, version: '2.0.0"} or vector(1000) or sum(x{a="' };
      expect(await querier.query('sum(test_requests_total{version="{{version}}"})', crafted)).toBeNull();
    },
  );

  it.skipIf(skip)('measures rate() over the scraped samples', async () => {
    // Wait until the 5 s window is full of samples, then read the rate of a 50/s counter.
    const started = Date.now();
    const rate = await eventually(
      () => querier.query('rate(test_ticks_total[5s])', context),
      (v) => v !== null && Date.now() - started > 6_000,
    );
    expect(rate).toBeGreaterThan(40);
    expect(rate).toBeLessThan(60);
  });

  it.skipIf(skip)('answers no data for an empty vector and a scalar for a scalar', async () => {
    await eventually(
      () => querier.query('sum(test_requests_total)', context),
      (v) => v === 42,
    );
    expect(await querier.query('sum(test_requests_total{version="9.9.9"})', context)).toBeNull();
    expect(await querier.query('scalar(sum(test_requests_total)) * 2', context)).toBe(84);
    expect(await querier.query('1 / 0', context)).toBe(Number.POSITIVE_INFINITY);
  });

  it.skipIf(skip)('refuses a vector of several series and a malformed query, saying why', async () => {
    await eventually(
      () => querier.query('sum(test_requests_total)', context),
      (v) => v === 42,
    );
    await expect(querier.query('test_requests_total', context)).rejects.toThrow(
      /returned 2 series .*aggregate it, e\.g\. with sum/,
    );
    await expect(querier.query('sum(rate(test_requests_total[5s])', context)).rejects.toThrow(
      /Prometheus refused the query \(bad_data\)/,
    );
  });
});

describe('PrometheusQuerier without a server', () => {
  it('fails clearly when Prometheus cannot be reached', async () => {
    const closed = await startMetricsService();
    await closed.close();
    const querier = new PrometheusQuerier({ url: `http://${closed.hostPort}`, timeoutMs: 2_000, outbound });
    await expect(querier.query('up', context)).rejects.toThrow(/Prometheus could not be reached/);
  });

  it('refuses a placeholder outside a double-quoted label value, and an unknown one', async () => {
    const querier = new PrometheusQuerier({ url: 'http://127.0.0.1:9', timeoutMs: 1_000, outbound });
    await expect(querier.query('test_requests_total{{version}}', context)).rejects.toThrow(
      'must stand inside a double-quoted label value',
    );
    await expect(querier.query("sum(x{version='{{version}}'})", context)).rejects.toThrow(
      'must stand inside a double-quoted label value',
    );
    await expect(querier.query('sum(x{v="{{service}}"})', context)).rejects.toThrow('unknown placeholder');
  });
});

describe('TargetMetricsQuerier scraping the service directly', () => {
  const querierFor = (urls: string[], warmupMs = 1_000) =>
    new TargetMetricsQuerier({ targets: () => urls, timeoutMs: 2_000, warmupMs, outbound });

  it('reads a counter with {{version}} filled in, and gauges', async () => {
    const querier = querierFor([service.url]);
    expect(await querier.query('test_requests_total{version="{{version}}"}', context)).toBe(12);
    expect(await querier.query('test_requests_total', context)).toBe(42);
    expect(await querier.query('test_in_flight * 2', context)).toBe(6);
  });

  it('adds up the series of every target', async () => {
    second.requests.inc({ version: '2.0.0' }, 8);
    const querier = querierFor([service.url, second.url]);
    expect(await querier.query('test_requests_total{version="{{version}}"}', context)).toBe(20);
  });

  it('measures rate() across successive scrapes, waiting for a second scrape on the first query', async () => {
    const querier = querierFor([service.url]);
    const first = await querier.query('rate(test_ticks_total[30s])', context);
    expect(first).toBeGreaterThan(35);
    expect(first).toBeLessThan(65);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const later = await querier.query('rate(test_ticks_total[30s])', context);
    expect(later).toBeGreaterThan(40);
    expect(later).toBeLessThan(60);
  });

  it('reads histograms: histogram_quantile interpolates as Prometheus does', async () => {
    const querier = querierFor([service.url]);
    // 100 observations of 0.05 s, all in the (0.025, 0.05] bucket: the median is its middle.
    expect(await querier.query('histogram_quantile(0.5, test_duration_seconds_bucket)', context)).toBeCloseTo(
      0.0375,
      6,
    );
    expect(await querier.query('test_duration_seconds_count', context)).toBe(100);
  });

  it('sees through one instance restarting: its counter reset is not an increase of the sum', async () => {
    service.resets.inc(1_000);
    second.resets.inc(100);
    const querier = querierFor([service.url, second.url]);
    expect(await querier.query('rate(test_resets_total[30s])', context)).toBe(0);
    second.registry.resetMetrics();
    second.resets.inc(5);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // 5 more over a bit more than a second; a sum taken at face value would have "grown" by 1005.
    const rate = await querier.query('rate(test_resets_total[30s])', context);
    expect(rate).toBeGreaterThan(0);
    expect(rate).toBeLessThanOrEqual(5);
  });

  it('keeps deployments apart: each (deploymentId, version) has its own history', async () => {
    const querier = querierFor([service.url], 200);
    await querier.query('rate(test_ticks_total[30s])', context);
    // Another deployment's first rate() has no history of its own yet, so it waits for a second scrape.
    const started = Date.now();
    const other = await querier.query('rate(test_ticks_total[30s])', { ...context, deploymentId: 'other' });
    expect(other).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
  });

  it('answers NaN, no data, for a metric no target has', async () => {
    expect(await querierFor([service.url]).query('nonexistent_total', context)).toBeNaN();
  });

  it('fails the query when a target cannot be scraped, naming it', async () => {
    const gone = await startMetricsService();
    await gone.close();
    const querier = querierFor([service.url, gone.url]);
    await expect(querier.query('test_requests_total', context)).rejects.toThrow(
      new RegExp(`scraping ${gone.url.replace(/[.]/g, '\\.')} failed`),
    );
  });

  it('refuses an expression outside the language with the position of the mistake', async () => {
    await expect(
      querierFor([service.url]).query('label_replace(test_requests_total)', context),
    ).rejects.toThrow(/at position 0: expected a known function/);
  });
});

describe('parsePrometheusText', () => {
  it('parses escaped label values, special values and which series are monotonic', () => {
    const parsed = parsePrometheusText(
      [
        '# HELP a_total Things.',
        '# TYPE a_total counter',
        'a_total{path="/x\\"y\\\\z",code="200"} 3 1700000000000',
        '# TYPE h histogram',
        'h_bucket{le="+Inf"} 2',
        'h_sum 1.5e-1',
        '# TYPE g gauge',
        'g NaN',
        'g{side="low"} -Inf',
        'untyped_total 7',
      ].join('\n'),
    );
    expect([...parsed]).toEqual([
      ['a_total{code="200",path="/x\\"y\\\\z"}', { value: 3, monotonic: true }],
      ['h_bucket{le="+Inf"}', { value: 2, monotonic: true }],
      ['h_sum', { value: 0.15, monotonic: true }],
      ['g', { value: Number.NaN, monotonic: false }],
      ['g{side="low"}', { value: Number.NEGATIVE_INFINITY, monotonic: false }],
      ['untyped_total', { value: 7, monotonic: false }],
    ]);
    expect(() => parsePrometheusText('a_total{path="x} 1')).toThrow('line 1 of the exposition');
  });
});
