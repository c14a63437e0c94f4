import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../client';
import { OTEL_DURATION_BUCKETS } from '../../server/base/metrics/metrics';
import { startTestApp, type TestApp } from '../helpers/app';
import { findOnPath } from '../helpers/components';

let t: TestApp;

beforeAll(async () => {
  // warn: 10,000 requests' access lines at info level would only slow the test down.
  t = await startTestApp({ LOG_LEVEL: 'warn' });
});
afterAll(() => t?.close());

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (comments skipped) into samples. */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = (value as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(path = '/metrics'): Promise<{ text: string; samples: Sample[] }> {
  const res = await t.app.request(path);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, samples: parseSamples(text) };
}

/** The sum of the samples with this name whose labels include these (0 when there are none). */
function sampleSum(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

const requests = (n: number, make: (i: number) => unknown) =>
  Promise.all(Array.from({ length: n }, (_, i) => make(i)));

describe('Prometheus scrape', () => {
  it('serves the Prometheus text format on /metrics and /api/metrics/prometheus', async () => {
    for (const path of ['/metrics', '/api/metrics/prometheus']) {
      const res = await t.app.request(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const text = await res.text();
      expect(text).toContain('# HELP http_server_request_duration_seconds ');
      expect(text).toContain('# TYPE http_server_request_duration_seconds histogram');
      expect(text).toContain('# TYPE trpc_procedure_calls_total counter');
      expect(parseSamples(text).length).toBeGreaterThan(50);
    }
  });

  it('labels HTTP requests by route template, method and status code, never by raw path', async () => {
    const before = (await scrape()).samples;
    await requests(3, () => t.app.request('/api/health/lightweight'));
    await t.app.request('/api/trpc/system.info');
    await t.app.request('/api/trpc/system.nowhere-procedure');
    await t.app.request('/api/nowhere-route/abc');
    await t.app.request('/api/health', { method: 'POST' });
    const after = (await scrape()).samples;

    const delta = (labels: Record<string, string>) =>
      sampleSum(after, 'http_server_request_duration_seconds_count', labels) -
      sampleSum(before, 'http_server_request_duration_seconds_count', labels);
    expect(delta({ method: 'GET', route: '/api/health/lightweight', status_code: '200' })).toBe(3);
    expect(delta({ method: 'GET', route: '/api/trpc/*', status_code: '200' })).toBe(1);
    expect(delta({ method: 'GET', route: '/api/trpc/*', status_code: '404' })).toBe(1);
    expect(delta({ method: 'GET', route: 'unmatched', status_code: '404' })).toBe(1);
    expect(delta({ method: 'POST', route: 'unmatched', status_code: '405' })).toBe(1);

    const routes = new Set(
      after.filter((s) => s.name.startsWith('http_server_request_duration')).map((s) => s.labels.route),
    );
    for (const route of routes) expect(route === 'unmatched' || !route?.includes('nowhere')).toBe(true);
    expect([...routes].some((r) => r?.includes('system.info'))).toBe(false);
  });

  it("uses OpenTelemetry's default buckets for the HTTP histogram", async () => {
    const { samples } = await scrape();
    const les = samples
      .filter(
        (s) =>
          s.name === 'http_server_request_duration_seconds_bucket' &&
          s.labels.route === '/api/health/lightweight',
      )
      .map((s) => s.labels.le);
    expect(les).toEqual([...OTEL_DURATION_BUCKETS.map(String), '+Inf']);
  });

  it('counts tRPC calls by procedure and result code', async () => {
    const client = createClient({
      url: 'http://platform.test',
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(input, init)) as typeof fetch,
    });
    const before = (await scrape()).samples;
    await requests(200, () => client.system.info.query());
    await client.system.status.query().catch(() => undefined);
    await t.app.request('/api/trpc/system.annotations.create', {
      method: 'POST',
      headers: { ...t.admin, 'content-type': 'application/json' },
      body: JSON.stringify({ text: '' }),
    });
    const after = (await scrape()).samples;

    const delta = (name: string, labels: Record<string, string>) =>
      sampleSum(after, name, labels) - sampleSum(before, name, labels);
    const info = { procedure: 'system.info', type: 'query', code: 'OK' };
    expect(delta('trpc_procedure_calls_total', info)).toBe(200);
    expect(delta('trpc_procedure_duration_seconds_count', info)).toBe(200);
    expect(
      delta('trpc_procedure_calls_total', {
        procedure: 'system.status',
        type: 'query',
        code: 'UNAUTHORIZED',
      }),
    ).toBe(1);
    expect(
      delta('trpc_procedure_calls_total', {
        procedure: 'system.annotations.create',
        type: 'mutation',
        code: 'BAD_REQUEST',
      }),
    ).toBe(1);
    // A procedure that does not exist never reaches one: it makes no series.
    expect(after.some((s) => s.labels.procedure?.includes('nowhere'))).toBe(false);
  });

  it('times database statements by operation and result, and exposes pool gauges', async () => {
    await t.app.request('/api/trpc/system.annotations.create', {
      method: 'POST',
      headers: { ...t.admin, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'metrics test' }),
    });
    await t.deps.database.read((db) => sql`select * from no_such_table`.execute(db)).catch(() => undefined);
    const { samples } = await scrape();
    const ops = 'db_client_operation_duration_seconds_count';
    expect(sampleSum(samples, ops, { operation: 'select', result: 'ok' })).toBeGreaterThan(0);
    expect(sampleSum(samples, ops, { operation: 'insert', result: 'ok' })).toBeGreaterThan(0);
    expect(sampleSum(samples, ops, { operation: 'select', result: 'error' })).toBeGreaterThanOrEqual(1);

    for (const state of ['idle', 'used', 'waiting']) {
      const [gauge] = samples.filter((s) => s.name === 'db_client_connections' && s.labels.state === state);
      expect(gauge?.value, state).toBeGreaterThanOrEqual(0);
    }
    expect(sampleSum(samples, 'db_client_connections', { state: 'idle' })).toBeGreaterThan(0);
    expect(sampleSum(samples, 'db_client_connections_max')).toBe(10);
    expect(sampleSum(samples, 'db_up')).toBe(1);
    expect(sampleSum(samples, 'db_client_connection_acquires_total')).toBeGreaterThan(0);
    expect(sampleSum(samples, 'db_client_connections_opened_total')).toBeGreaterThan(0);
    for (const name of ['db_client_connection_errors_total', 'db_client_reconnects_total']) {
      expect(samples.some((s) => s.name === name)).toBe(true);
    }
  });

  it('reports component status as a state set, build info and runtime metrics', async () => {
    const { samples } = await scrape();
    for (const component of ['database', 'cache', 'monitoring']) {
      const states = samples.filter(
        (s) => s.name === 'platform_component_status' && s.labels.component === component,
      );
      expect(states.map((s) => s.labels.status).sort()).toEqual([
        'degraded',
        'failed',
        'initializing',
        'pending',
        'ready',
      ]);
      expect(states.filter((s) => s.value === 1).map((s) => s.labels.status)).toEqual(['ready']);
    }
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const [build] = samples.filter((s) => s.name === 'platform_build_info');
    expect(build?.value).toBe(1);
    expect(build?.labels).toMatchObject({
      version: pkg.version,
      runtime: 'node',
      runtime_version: process.versions.node,
      commit: expect.any(String),
    });
    for (const name of [
      'runtime_event_loop_lag_seconds',
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_version_info',
      'http_server_active_requests',
    ]) {
      expect(
        samples.some((s) => s.name === name),
        name,
      ).toBe(true);
    }
  });

  it('adds no series for 10,000 requests to random paths', async () => {
    const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'PROPFIND'];
    const shapes = [
      (r: string) => `/${r}`,
      (r: string) => `/api/${r}/${r}?${r}=${r}`,
      (r: string) => `/api/health/${r}`,
      (r: string) => `/api/trpc/${r}`,
      (r: string) => `/api/trpc/system.${r}?${r}=1`,
      (r: string) => `/metrics/${r}`,
    ];
    const send = (shape: number, method: string, token: string) =>
      t.app.request((shapes[shape] as (r: string) => string)(token), {
        method,
        headers: { 'x-request-id': token },
      });
    /** Samples of every metric a request can touch (prom-client's process metrics left out). */
    const series = (samples: Sample[]) =>
      samples.filter((s) => !s.name.startsWith('nodejs_') && !s.name.startsWith('process_'));
    const requestCount = (samples: Sample[]) =>
      sampleSum(samples, 'http_server_request_duration_seconds_count');

    // Once each kind of request, so that every (method, route, status) they map to exists.
    for (let shape = 0; shape < shapes.length; shape++) {
      for (const method of methods) await send(shape, method, 'warmup');
    }
    const before = (await scrape()).samples;

    const tokens: string[] = [];
    for (let batch = 0; batch < 50; batch++) {
      await requests(200, (i) => {
        const token = randomBytes(6).toString('hex');
        if (i === 0) tokens.push(token);
        return send(
          Math.floor(Math.random() * shapes.length),
          methods[Math.floor(Math.random() * methods.length)] as string,
          token,
        );
      });
    }
    const after = await scrape();

    expect(requestCount(after.samples) - requestCount(before)).toBe(10_000 + 1); // + the scrape itself
    expect(series(after.samples).length).toBe(series(before).length);
    for (const token of tokens) expect(after.text).not.toContain(token);
    const unmatched = sampleSum(after.samples, 'http_server_request_duration_seconds_count', {
      route: 'unmatched',
    });
    expect(unmatched).toBeGreaterThan(5_000);
    const methodLabels = new Set(after.samples.map((s) => s.labels.method).filter(Boolean));
    expect(methodLabels.has('PROPFIND')).toBe(false);
    expect(methodLabels.has('_OTHER')).toBe(true);
  });
});

/** promtool's complaints about prom-client's own gauges named *_total; nothing else is forgiven. */
const PROM_CLIENT_LINT = /^nodejs_active_[a-z]+_total non-counter metrics should not have "_total" suffix$/;

describe('promtool', () => {
  it('passes `promtool check metrics` apart from prom-client’s nodejs_active_*_total gauges', async (ctx) => {
    const promtool = findOnPath('promtool');
    if (!promtool) {
      const reason = 'promtool is not installed (Debian package "prometheus")';
      // In CI its absence is a broken environment, never a reason to pass.
      if (process.env.CI === 'true') throw new Error(`${reason}; CI must install it`);
      ctx.skip(reason);
    }
    // Traffic first, so histograms and labelled series are in the scrape.
    await t.app.request('/api/health');
    await t.app.request('/api/trpc/system.info');
    await t.app.request('/api/trpc/system.status');
    await t.app.request('/nowhere');
    const { text } = await scrape();
    const dir = mkdtempSync(join(tmpdir(), 'bc-promtool-'));
    try {
      const file = join(dir, 'scrape.prom');
      writeFileSync(file, text);
      const result = spawnSync(promtool as string, ['check', 'metrics'], {
        input: readFileSync(file),
        encoding: 'utf8',
        timeout: 20_000,
      });
      const findings = `${result.stdout}${result.stderr}`
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line && !PROM_CLIENT_LINT.test(line));
      expect(findings).toEqual([]);
      // 0: clean; 3: lint findings only (all forgiven above). 1 would be a parse error.
      expect([0, 3]).toContain(result.status);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
