import { setTimeout as delay } from 'node:timers/promises';
import { untilAborted } from '../../../shared/abortable';
import type { Measurement, MetricQuerier } from './contracts';

/**
 * Deployment analysis with the semantics of Argo Rollouts' AnalysisRun: each metric is measured
 * `count` times, `intervalSeconds` apart; a metric is failed once its failed measurements exceed
 * `failureLimit`, inconclusive once its inconclusive ones exceed `inconclusiveLimit`, and in error
 * once more than ERROR_LIMIT measurements in a row could not be taken. Unlike Argo, an error is
 * judged inconclusive, not failed: a query that cannot run (a typo, a metrics source down) says
 * nothing about the version, and a failure would roll it back and mark it bad for good. The
 * deployment pauses for an operator instead.
 * The run is the worst of its metrics (failed, then inconclusive, then successful) and stops as
 * soon as one metric fails. https://argo-rollouts.readthedocs.io/en/stable/features/analysis/
 */

/** `value op threshold`, e.g. `{ op: '<', value: 0.05 }` for "below 5 %". */
export interface Comparison {
  op: '<' | '<=' | '>' | '>=' | '==';
  value: number;
}

export interface AnalysisMetric {
  name: string;
  /** PromQL, or an expression over the targets' /metrics, depending on the querier. */
  query: string;
  successCondition: Comparison;
  /** Without it, a value that misses the success condition is a failure. */
  failureCondition?: Comparison;
}

/**
 * What an analysis measures and how. The input schema is `analysisSpec` in
 * shared/devops-deployments.ts (its output type is assignable to this one).
 */
export interface AnalysisSpec {
  metrics: AnalysisMetric[];
  intervalSeconds: number;
  count: number;
  failureLimit: number;
  inconclusiveLimit: number;
}

export type AnalysisOutcome = 'successful' | 'failed' | 'inconclusive';

/** Argo Rollouts' default consecutiveErrorLimit: errors in a row beyond this fail the metric. */
export const ERROR_LIMIT = 4;

export interface AnalysisOptions {
  context: { deploymentId: string; version: string };
  signal: AbortSignal;
  /** Measurements already taken by an earlier run of this analysis (a restart resumes from them). */
  previous?: Measurement[];
  /** Called with each measurement, in order, before the run goes on (the engine persists it). */
  onMeasurement: (m: Measurement) => Promise<void>;
  /** Waits `ms`, rejecting when `signal` aborts; replaceable for tests. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

type MetricPhase = 'running' | 'successful' | 'failed' | 'error' | 'inconclusive';

interface MetricState {
  metric: AnalysisMetric;
  taken: number;
  failed: number;
  inconclusive: number;
  consecutiveErrors: number;
  /** When the next measurement is due, ms since the epoch. */
  dueAt: number;
  phase: MetricPhase;
}

/** Runs (or resumes) an analysis to its outcome. Rejects with the signal's reason when aborted. */
export async function runAnalysis(
  spec: AnalysisSpec,
  querier: MetricQuerier,
  options: AnalysisOptions,
): Promise<{ outcome: AnalysisOutcome; measurements: Measurement[] }> {
  const { signal, context, onMeasurement, sleep = abortableSleep } = options;
  const intervalMs = spec.intervalSeconds * 1000;
  const measurements: Measurement[] = [...(options.previous ?? [])];
  const states = spec.metrics.map((metric): MetricState => {
    const state: MetricState = {
      metric,
      taken: 0,
      failed: 0,
      inconclusive: 0,
      consecutiveErrors: 0,
      dueAt: 0,
      phase: 'running',
    };
    for (const m of measurements) {
      if (m.metric !== metric.name) continue;
      count(state, m);
      state.dueAt = Date.parse(m.at) + intervalMs;
    }
    state.phase = assess(state, spec);
    return state;
  });

  for (;;) {
    signal.throwIfAborted();
    if (states.some((s) => s.phase === 'failed' || s.phase === 'error')) break;
    const running = states.filter((s) => s.phase === 'running');
    if (running.length === 0) break;
    const nextDue = Math.min(...running.map((s) => s.dueAt));
    const waitMs = nextDue - Date.now();
    if (waitMs > 0) await sleep(waitMs, signal);
    signal.throwIfAborted();
    // Metrics that fall due together are measured together. Due-ness is decided before the sleep,
    // never by re-reading the clock after it: a sleep that returns early (a test's) still advances.
    const due = running.filter((s) => s.dueAt <= nextDue + Math.min(DUE_TOGETHER_MS, intervalMs / 2));
    const taken = await untilAborted(
      Promise.all(due.map((s) => measure(s.metric, querier, context))),
      signal,
    );
    for (const [i, m] of taken.entries()) {
      const state = due[i] as MetricState;
      await onMeasurement(m);
      measurements.push(m);
      count(state, m);
      state.dueAt = Date.now() + intervalMs;
      state.phase = assess(state, spec);
    }
  }
  return { outcome: outcomeOf(states), measurements };
}

// Metrics resumed from measurements a few ms apart are still one round.
const DUE_TOGETHER_MS = 1_000;

/** Takes one measurement; never throws (a failing query is an 'error' measurement). */
async function measure(
  metric: AnalysisMetric,
  querier: MetricQuerier,
  context: { deploymentId: string; version: string },
): Promise<Measurement> {
  let raw: number | null;
  try {
    raw = await querier.query(metric.query, context);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { metric: metric.name, at: now(), value: null, phase: 'error', message: message.slice(0, 500) };
  }
  const at = now();
  if (raw === null || Number.isNaN(raw)) {
    return {
      metric: metric.name,
      at,
      value: null,
      phase: 'inconclusive',
      message: raw === null ? 'the query returned no data' : 'the query returned NaN',
    };
  }
  const succeeded = holds(metric.successCondition, raw);
  const failedCondition = metric.failureCondition ? holds(metric.failureCondition, raw) : !succeeded;
  // As in Argo Rollouts, a value meeting both conditions is failed: the failure condition is the alarm.
  const phase = failedCondition ? 'failed' : succeeded ? 'successful' : 'inconclusive';
  // ±Infinity compares fine but has no JSON form; it is kept in the message instead.
  if (!Number.isFinite(raw)) return { metric: metric.name, at, value: null, phase, message: `value ${raw}` };
  return { metric: metric.name, at, value: raw, phase };
}

export function holds(condition: Comparison, value: number): boolean {
  switch (condition.op) {
    case '<':
      return value < condition.value;
    case '<=':
      return value <= condition.value;
    case '>':
      return value > condition.value;
    case '>=':
      return value >= condition.value;
    case '==':
      return value === condition.value;
  }
}

function count(state: MetricState, m: Measurement): void {
  state.taken++;
  if (m.phase === 'error') {
    state.consecutiveErrors++;
    return;
  }
  state.consecutiveErrors = 0;
  if (m.phase === 'failed') state.failed++;
  else if (m.phase === 'inconclusive') state.inconclusive++;
}

function assess(state: MetricState, spec: AnalysisSpec): MetricPhase {
  if (state.failed > spec.failureLimit) return 'failed';
  if (state.consecutiveErrors > ERROR_LIMIT) return 'error';
  if (state.inconclusive > spec.inconclusiveLimit) return 'inconclusive';
  return state.taken >= spec.count ? 'successful' : 'running';
}

function outcomeOf(states: MetricState[]): AnalysisOutcome {
  if (states.some((s) => s.phase === 'failed')) return 'failed';
  if (states.some((s) => s.phase === 'inconclusive' || s.phase === 'error')) return 'inconclusive';
  return 'successful';
}

function now(): string {
  return new Date().toISOString();
}

async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (error) {
    throw signal.aborted ? signal.reason : error;
  }
}
