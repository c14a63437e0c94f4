import { describe, expect, it } from 'vitest';
import { type AnalysisSpec, ERROR_LIMIT, runAnalysis } from './analysis';
import type { Measurement, MetricQuerier } from './contracts';

const context = { deploymentId: 'dep-1', version: '2.0.0' };

type Answer = number | null | Error;

/**
 * A metric source that answers each query with the next value of its script, and records what it
 * was asked. A script that runs out answers with an error, so a test never loops on a default.
 */
function scriptedQuerier(scripts: Record<string, Answer[]>) {
  const asked: string[] = [];
  const querier: MetricQuerier = {
    kind: 'prometheus',
    async query(expression, ctx) {
      expect(ctx).toEqual(context);
      asked.push(expression);
      const next = scripts[expression]?.shift();
      if (next === undefined) throw new Error(`the script for ${expression} ran out`);
      if (next instanceof Error) throw next;
      return next;
    },
  };
  return { querier, asked };
}

/** A sleep that returns at once, recording how long it was asked to wait. */
function instantSleep() {
  const waits: number[] = [];
  const sleep = async (ms: number, signal: AbortSignal) => {
    signal.throwIfAborted();
    waits.push(ms);
  };
  return { sleep, waits };
}

const errorRate = {
  name: 'error-rate',
  query: 'errors',
  successCondition: { op: '<', value: 0.05 },
} as const;
const latency = {
  name: 'p99-latency',
  query: 'latency',
  successCondition: { op: '<=', value: 0.3 },
  failureCondition: { op: '>', value: 0.5 },
} as const;

function spec(overrides: Partial<AnalysisSpec> = {}): AnalysisSpec {
  return {
    metrics: [errorRate],
    intervalSeconds: 10,
    count: 3,
    failureLimit: 0,
    inconclusiveLimit: 0,
    ...overrides,
  };
}

async function run(analysis: AnalysisSpec, scripts: Record<string, Answer[]>, previous?: Measurement[]) {
  const { querier, asked } = scriptedQuerier(scripts);
  const { sleep, waits } = instantSleep();
  const recorded: Measurement[] = [];
  const result = await runAnalysis(analysis, querier, {
    context,
    signal: new AbortController().signal,
    previous,
    sleep,
    onMeasurement: async (m) => {
      recorded.push(m);
    },
  });
  return { ...result, asked, waits, recorded };
}

const phases = (ms: Measurement[]) => ms.map((m) => `${m.metric}:${m.phase}`);

describe('runAnalysis', () => {
  it('succeeds after `count` passing measurements of every metric, `intervalSeconds` apart', async () => {
    const result = await run(spec({ metrics: [errorRate, latency] }), {
      errors: [0.01, 0.02, 0],
      latency: [0.1, 0.2, 0.3],
    });
    expect(result.outcome).toBe('successful');
    expect(result.measurements.map((m) => m.value)).toEqual([0.01, 0.1, 0.02, 0.2, 0, 0.3]);
    expect(result.recorded).toEqual(result.measurements);
    expect(new Set(result.measurements.map((m) => m.phase))).toEqual(new Set(['successful']));
    // Two waits between three rounds, each (nearly) the whole interval.
    expect(result.waits).toHaveLength(2);
    for (const wait of result.waits) {
      expect(wait).toBeGreaterThan(9_000);
      expect(wait).toBeLessThanOrEqual(10_000);
    }
  });

  it('tolerates failures up to failureLimit and fails as soon as they exceed it', async () => {
    const tolerated = await run(spec({ count: 4, failureLimit: 1 }), { errors: [0.01, 0.2, 0.01, 0.01] });
    expect(tolerated.outcome).toBe('successful');
    expect(phases(tolerated.measurements)).toEqual([
      'error-rate:successful',
      'error-rate:failed',
      'error-rate:successful',
      'error-rate:successful',
    ]);

    const failed = await run(spec({ count: 5, failureLimit: 1 }), { errors: [0.2, 0.01, 0.3, 0.01, 0.01] });
    expect(failed.outcome).toBe('failed');
    expect(failed.measurements.map((m) => m.value)).toEqual([0.2, 0.01, 0.3]);
    // Nothing is measured after the decisive failure.
    expect(failed.asked).toHaveLength(3);
  });

  it('stops the whole run when one metric fails, whatever the others are doing', async () => {
    const result = await run(spec({ metrics: [errorRate, latency], count: 5 }), {
      errors: [0.01, 0.01, 0.01, 0.01, 0.01],
      latency: [0.1, 0.9, 0.1, 0.1, 0.1],
    });
    expect(result.outcome).toBe('failed');
    expect(phases(result.measurements)).toEqual([
      'error-rate:successful',
      'p99-latency:successful',
      'error-rate:successful',
      'p99-latency:failed',
    ]);
  });

  it('counts a value between the success and the failure condition, no data and NaN as inconclusive', async () => {
    const result = await run(spec({ metrics: [latency], count: 4, inconclusiveLimit: 2 }), {
      latency: [0.4, null, Number.NaN, 0.1],
    });
    expect(result.outcome).toBe('inconclusive');
    expect(result.measurements).toMatchObject([
      { metric: 'p99-latency', value: 0.4, phase: 'inconclusive' },
      { value: null, phase: 'inconclusive', message: 'the query returned no data' },
      { value: null, phase: 'inconclusive', message: 'the query returned NaN' },
    ]);
  });

  it('judges a value meeting both conditions as failed, and one missing a lone success condition as failed', async () => {
    const both = await run(
      spec({
        metrics: [{ ...latency, successCondition: { op: '<', value: 1 } }],
        count: 1,
      }),
      { latency: [0.7] },
    );
    expect(both.measurements[0]).toMatchObject({ value: 0.7, phase: 'failed' });
    const lone = await run(spec({ count: 1 }), { errors: [0.05] });
    expect(lone.measurements[0]).toMatchObject({ value: 0.05, phase: 'failed' });
    expect(lone.outcome).toBe('failed');
  });

  it('lets the worse metric decide: a failure after another metric went inconclusive is a failure', async () => {
    const result = await run(spec({ metrics: [latency, errorRate], count: 3 }), {
      latency: [0.4],
      errors: [0.01, 0.01, 0.5],
    });
    expect(result.outcome).toBe('failed');
    // The inconclusive metric is not measured again; the other goes on to its failure.
    expect(phases(result.measurements)).toEqual([
      'p99-latency:inconclusive',
      'error-rate:successful',
      'error-rate:successful',
      'error-rate:failed',
    ]);
  });

  it('records a query that throws as an error measurement and gives up, inconclusive (never failed), only after more than ERROR_LIMIT in a row', async () => {
    const boom = () => new Error('Prometheus could not be reached: ECONNREFUSED');
    const intermittent = await run(spec({ count: 6 }), {
      errors: [boom(), boom(), boom(), boom(), 0.01, boom()],
    });
    expect(intermittent.outcome).toBe('successful');
    expect(intermittent.measurements[0]).toMatchObject({
      phase: 'error',
      value: null,
      message: 'Prometheus could not be reached: ECONNREFUSED',
    });

    const broken = await run(spec({ count: 10 }), {
      errors: Array.from({ length: ERROR_LIMIT + 1 }, boom),
    });
    expect(broken.outcome).toBe('inconclusive');
    expect(broken.measurements).toHaveLength(ERROR_LIMIT + 1);
  });

  it('resumes from earlier measurements: only the missing ones are taken, the first after the rest of the interval', async () => {
    const fiveSecondsAgo = new Date(Date.now() - 5_000).toISOString();
    const previous: Measurement[] = [
      { metric: 'error-rate', at: new Date(Date.now() - 15_000).toISOString(), value: 0.3, phase: 'failed' },
      { metric: 'error-rate', at: fiveSecondsAgo, value: 0.01, phase: 'successful' },
    ];
    const result = await run(spec({ count: 3, failureLimit: 1 }), { errors: [0.02] }, previous);
    expect(result.outcome).toBe('successful');
    expect(result.asked).toEqual(['errors']);
    expect(result.recorded.map((m) => m.value)).toEqual([0.02]);
    expect(result.measurements.map((m) => m.value)).toEqual([0.3, 0.01, 0.02]);
    expect(result.waits).toHaveLength(1);
    expect(result.waits[0]).toBeGreaterThan(4_000);
    expect(result.waits[0]).toBeLessThanOrEqual(5_000);

    // A run that had already failed before the restart stays failed without measuring again.
    const decided = await run(spec({ count: 3 }), {}, previous);
    expect(decided.outcome).toBe('failed');
    expect(decided.asked).toEqual([]);
  });

  it('hands each measurement to onMeasurement before taking the next, and fails if it cannot be recorded', async () => {
    const events: string[] = [];
    const querier: MetricQuerier = {
      kind: 'targetMetrics',
      async query() {
        events.push('query');
        return 0.01;
      },
    };
    const { sleep } = instantSleep();
    await runAnalysis(spec({ count: 2 }), querier, {
      context,
      signal: new AbortController().signal,
      sleep,
      onMeasurement: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        events.push('recorded');
      },
    });
    expect(events).toEqual(['query', 'recorded', 'query', 'recorded']);

    await expect(
      runAnalysis(spec(), querier, {
        context,
        signal: new AbortController().signal,
        sleep,
        onMeasurement: async () => {
          throw new Error('the database is gone');
        },
      }),
    ).rejects.toThrow('the database is gone');
  });

  it('stops waiting for the next interval as soon as it is aborted', async () => {
    const controller = new AbortController();
    const { querier } = scriptedQuerier({ errors: [0.01, 0.01] });
    const started = Date.now();
    const running = runAnalysis(spec({ intervalSeconds: 3_600 }), querier, {
      context,
      signal: controller.signal,
      onMeasurement: async () => {
        setTimeout(() => controller.abort(new Error('deployment aborted by an operator')), 20);
      },
    });
    await expect(running).rejects.toThrow('deployment aborted by an operator');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('stops waiting for a query that hangs as soon as it is aborted, recording nothing', async () => {
    const controller = new AbortController();
    const recorded: Measurement[] = [];
    const hanging: MetricQuerier = { kind: 'prometheus', query: () => new Promise(() => {}) };
    const running = runAnalysis(spec(), hanging, {
      context,
      signal: controller.signal,
      onMeasurement: async (m) => {
        recorded.push(m);
      },
    });
    setTimeout(() => controller.abort(new Error('lease lost')), 20);
    await expect(running).rejects.toThrow('lease lost');
    expect(recorded).toEqual([]);
  });

  it('does not start at all with an aborted signal', async () => {
    const { querier, asked } = scriptedQuerier({ errors: [0.01] });
    const controller = new AbortController();
    controller.abort(new Error('already over'));
    await expect(
      runAnalysis(spec(), querier, { context, signal: controller.signal, onMeasurement: async () => {} }),
    ).rejects.toThrow('already over');
    expect(asked).toEqual([]);
  });
});
