import { setTimeout as delay } from 'node:timers/promises';
import { parseExpression, rateRequirements } from '../../base/expressions/expression';
import { evaluateExpression } from '../../base/expressions/expression-eval';
import { seriesKey } from '../../base/expressions/metrics-source';
import { SampleHistory } from '../../base/expressions/sample-history';
import { type OutboundPolicy, OutboundRefusedError, outboundRequest } from '../../base/outbound/index';
import type { MetricQuerier } from './contracts';
import { fillPlaceholders } from './prometheus-querier';

type Context = { deploymentId: string; version: string };

export interface TargetMetricsQuerierOptions {
  /** The `/metrics` URLs of the new version's instances, for a deployment. */
  targets: (context: Context) => string[] | Promise<string[]>;
  /** Bound on one scrape of one target. */
  timeoutMs: number;
  /** Where targets may point (purpose metrics: OUTBOUND_ALLOW_METRICS); checked at every scrape. */
  outbound: OutboundPolicy;
  /**
   * When a `rate()` has no earlier scrape within its window (the first query of an analysis, or a
   * window shorter than the analysis interval), the querier scrapes again after this long and
   * measures over that span rather than answering "no data" (default 1000 ms).
   */
  warmupMs?: number;
}

/** Scrapes larger than this are refused: a target is an HTTP service, not a metrics warehouse. */
const MAX_SCRAPE_BYTES = 10 * 1024 * 1024;
/** A deployment's history is dropped once no query asked for it this long. */
const IDLE_MS = 15 * 60_000;

/**
 * Analysis without Prometheus: scrapes the new version's instances' own Prometheus text
 * `/metrics` on every query and evaluates the alert rules' expression language
 * (server/base/expressions/expression.ts: selectors, rate(), histogram_quantile, arithmetic) over
 * the series of all instances added together, as `sum(...)` would in PromQL.
 *
 * Counters are summed after correcting each instance's resets, and a counter an instance stops
 * reporting (the instance left, or restarted and has not counted again) keeps its last value: so
 * `rate()` over the sum sees neither a restart nor a scale-down as a drop. A scrape that fails
 * fails the query (an 'error' measurement): the analysis must not judge a canary on the part of it
 * that still answers. Every deployment (deploymentId, version) has its own short history.
 */
export class TargetMetricsQuerier implements MetricQuerier {
  readonly kind = 'targetMetrics';
  private readonly states = new Map<string, DeploymentState>();

  constructor(private readonly options: TargetMetricsQuerierOptions) {}

  async query(expression: string, context: Context): Promise<number | null> {
    const expr = parseExpression(fillPlaceholders(expression, context));
    const needs = rateRequirements(expr);
    const state = this.stateFor(context);
    for (const metric of needs.metrics) state.keep.add(metric);
    state.retainMs = Math.max(state.retainMs, needs.maxWindowSeconds * 1_100 + 1_000);

    await this.scrape(state, context);
    let value = evaluateExpression(expr, state.history);
    if (value === undefined && needs.metrics.size > 0) {
      await delay(this.options.warmupMs ?? 1_000);
      await this.scrape(state, context);
      value = evaluateExpression(expr, state.history);
    }
    return value === undefined ? null : value;
  }

  private stateFor(context: Context): DeploymentState {
    const now = Date.now();
    for (const [key, state] of this.states) if (now - state.usedAt > IDLE_MS) this.states.delete(key);
    const key = `${context.deploymentId}\u0000${context.version}`;
    let state = this.states.get(key);
    if (!state) {
      state = {
        history: new SampleHistory(),
        targets: new Map(),
        keep: new Set(),
        retainMs: 0,
        inFlight: null,
        usedAt: now,
      };
      this.states.set(key, state);
    }
    state.usedAt = now;
    return state;
  }

  /**
   * One scrape of every target into the history. Queries that arrive while one is under way share
   * it: two scrapes of one counter finishing out of order would look like a reset.
   */
  private scrape(state: DeploymentState, context: Context): Promise<void> {
    state.inFlight ??= this.scrapeAll(state, context).finally(() => {
      state.inFlight = null;
    });
    return state.inFlight;
  }

  private async scrapeAll(state: DeploymentState, context: Context): Promise<void> {
    const urls = await this.options.targets(context);
    if (urls.length === 0) throw new Error('the deployment has no targets to scrape');
    const scraped = await Promise.all(urls.map((url) => scrapeTarget(url, this.options)));
    const at = Date.now();
    for (const [i, url] of urls.entries()) {
      let target = state.targets.get(url);
      if (!target) {
        target = { counters: new Map(), gauges: new Map() };
        state.targets.set(url, target);
      }
      absorb(target, scraped[i] as Exposition);
    }
    const listed = new Set(urls);
    const sample = new Map<string, number>();
    const add = (key: string, value: number) => sample.set(key, (sample.get(key) ?? 0) + value);
    for (const [url, target] of state.targets) {
      for (const [key, counter] of target.counters) add(key, counter.raw + counter.offset);
      // A gauge says how things are now: only the instances answering now count.
      if (listed.has(url)) for (const [key, value] of target.gauges) add(key, value);
    }
    state.history.push(at, sample, state.keep, state.retainMs);
  }
}

interface DeploymentState {
  history: SampleHistory;
  targets: Map<string, TargetState>;
  /** The metrics some query's rate() reads: older snapshots keep only these. */
  keep: Set<string>;
  retainMs: number;
  inFlight: Promise<void> | null;
  usedAt: number;
}

interface TargetState {
  /** Monotonic series: the last value read, plus what earlier resets took away. */
  counters: Map<string, { raw: number; offset: number }>;
  gauges: Map<string, number>;
}

function absorb(target: TargetState, exposition: Exposition): void {
  target.gauges = new Map();
  for (const [key, { value, monotonic }] of exposition) {
    if (!monotonic) {
      target.gauges.set(key, value);
      continue;
    }
    const counter = target.counters.get(key);
    if (!counter) target.counters.set(key, { raw: value, offset: 0 });
    else {
      // A counter that went down was reset (the process restarted): it counted `value` since.
      if (value < counter.raw) counter.offset += counter.raw;
      counter.raw = value;
    }
  }
}

/** One target's exposition. Failures name the target and our reason, never text of its answer. */
async function scrapeTarget(
  url: string,
  options: { timeoutMs: number; outbound: OutboundPolicy },
): Promise<Exposition> {
  let response: Awaited<ReturnType<typeof outboundRequest>>;
  try {
    response = await outboundRequest(url, 'metrics', options.outbound, {
      headers: { accept: 'text/plain;version=0.0.4;q=1,*/*;q=0.1' },
      timeoutMs: options.timeoutMs,
      maxBytes: MAX_SCRAPE_BYTES,
    });
  } catch (error) {
    if (error instanceof OutboundRefusedError) throw new Error(`scraping ${url} failed: ${error.message}`);
    throw error;
  }
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`scraping ${url} failed: it answered ${response.status}`);
  }
  try {
    return parsePrometheusText(response.body.toString('utf8'));
  } catch (error) {
    throw new Error(`scraping ${url} failed: ${(error as Error).message}`);
  }
}

/** A scrape's series by `seriesKey`, with whether each only ever grows (counters, histogram and summary counts). */
export type Exposition = Map<string, { value: number; monotonic: boolean }>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses the Prometheus text exposition format (what prom-client serves): `# TYPE` lines decide
 * which series are monotonic; `# HELP` and other comments are skipped; timestamps are ignored.
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const series: Exposition = new Map();
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (type) types.set(type[1] as string, type[2] as string);
      continue;
    }
    const fail = (what: string): never => {
      throw new Error(`line ${index + 1} of the exposition: ${what}`);
    };
    const name = NAME.exec(line)?.[0] ?? fail('expected a metric name');
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === ',') i++;
        if (line[i] === '}') break;
        const label = LABEL.exec(line.slice(i))?.[0] ?? fail("expected a label name or '}'");
        i += label.length;
        if (line[i] !== '=' || line[i + 1] !== '"') fail('expected ="…" after a label name');
        i += 2;
        let value = '';
        for (; line[i] !== '"'; i++) {
          if (i >= line.length) fail('an unterminated label value');
          if (line[i] === '\\') {
            i++;
            value += line[i] === 'n' ? '\n' : line[i];
          } else value += line[i];
        }
        labels[label] = value;
        i++;
      }
      i++;
    }
    const valueText = line.slice(i).trim().split(/\s+/)[0] ?? '';
    const value = parseValue(valueText) ?? fail('expected a sample value');
    series.set(seriesKey(name, labels), { value, monotonic: isMonotonic(name, types) });
  }
  return series;
}

function parseValue(text: string): number | null {
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return null;
  return Number(text);
}

function isMonotonic(name: string, types: Map<string, string>): boolean {
  const type = types.get(name);
  if (type) return type === 'counter';
  for (const suffix of ['_total', '_bucket', '_count', '_sum']) {
    if (!name.endsWith(suffix)) continue;
    const family = types.get(name.slice(0, -suffix.length));
    if (suffix === '_total' && family === 'counter') return true;
    if (suffix !== '_total' && (family === 'histogram' || (family === 'summary' && suffix !== '_bucket')))
      return true;
  }
  return false;
}
