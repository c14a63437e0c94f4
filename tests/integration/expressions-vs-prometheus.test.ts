import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type Expr, parseExpression, rateRequirements } from '../../server/base/expressions/expression';
import { evaluateExpression, evaluateVector } from '../../server/base/expressions/expression-eval';
import { seriesKey } from '../../server/base/expressions/metrics-source';
import { SampleHistory, type Series } from '../../server/base/expressions/sample-history';
import { labelsKey } from '../../server/base/expressions/vector-ops';
import { DEFAULT_ALERT_RULES } from '../../server/services/alerts/default-rules';
import { prometheusSkipReason, startTestPrometheus, type TestPrometheus } from '../helpers/prometheus-server';

/**
 * Every expression the project ships (Grafana panel targets in deploy/grafana/*.json, alert and
 * recording rules in deploy/prometheus/*.rules.yml) is parsed by the platform's expression language
 * and evaluated twice over the same scrapes of one target: by the platform (evaluateVector over a
 * SampleHistory fed by each scrape) and by a real Prometheus (an instant query at the time of the
 * last scrape). The answers must hold the same series with the same values.
 *
 * The target serves a synthetic exposition derived from the expressions themselves: every metric
 * and label they read, with label values that their matchers select and others that they do not;
 * counters grow, gauges move, histograms fill their buckets, every scrape.
 *
 * Tolerance, and why: the platform's rate() is the increase between samples over the time they
 * span; Prometheus's extrapolates that increase to the edges of the window (half a scrape interval
 * past the samples at most, here, with a window of 10.5 scrape intervals). For a counter growing by
 * the same amount every scrape both are that amount per second; what remains is the difference
 * between when Prometheus timestamps a scrape (its start) and when the target answers it (a few
 * ms later), and the jitter between scrapes: well under 1 %. Values are compared with a relative
 * tolerance of 1 %; label sets must be identical.
 *
 * Grafana's `$__rate_interval`, `$__interval` and `$__range`, and every rule's window, become one
 * fixed 10.5 s window (so the test need not run for 5 minutes, and no sample sits on a window's
 * edge); `$job` and `$instance` match everything; a recording rule's name in another expression is
 * replaced by its expression in parentheses (the platform has no recorded series).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WINDOW = '10500ms';
const SCRAPES_BEFORE_QUERY = 14;
const RELATIVE_TOLERANCE = 0.01;

interface Shipped {
  where: string;
  source: string;
}

function grafanaExpressions(): Shipped[] {
  const found: Shipped[] = [];
  const dir = join(ROOT, 'deploy/grafana');
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    const visit = (node: unknown, title: string): void => {
      if (Array.isArray(node)) for (const item of node) visit(item, title);
      else if (node && typeof node === 'object') {
        const object = node as Record<string, unknown>;
        const here = typeof object.title === 'string' ? object.title : title;
        if (typeof object.expr === 'string' && object.expr.trim()) {
          found.push({ where: `${file}: ${here}`, source: object.expr });
        }
        for (const value of Object.values(object)) visit(value, here);
      }
    };
    visit(JSON.parse(readFileSync(join(dir, file), 'utf8')), '');
  }
  return found;
}

function ruleExpressions(): { shipped: Shipped[]; recorded: Map<string, string> } {
  const shipped: Shipped[] = [];
  const recorded = new Map<string, string>();
  const dir = join(ROOT, 'deploy/prometheus');
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith('.rules.yml'))
    .sort()) {
    const document = parse(readFileSync(join(dir, file), 'utf8')) as {
      groups: { rules: { alert?: string; record?: string; expr: string }[] }[];
    };
    for (const group of document.groups) {
      for (const rule of group.rules) {
        shipped.push({ where: `${file}: ${rule.alert ?? rule.record}`, source: String(rule.expr).trim() });
        if (rule.record) recorded.set(rule.record, String(rule.expr).trim());
      }
    }
  }
  return { shipped, recorded };
}

/** The expression as both evaluators receive it: fixed windows, no Grafana variables, no recorded names. */
function prepared(source: string, recorded: Map<string, string>): string {
  let text = source;
  // Recorded names in recorded expressions too: a few rounds reach any depth the files use.
  for (let round = 0; round < 3; round++) {
    for (const [name, expr] of recorded) {
      text = text.replace(
        new RegExp(`(?<![\\w:])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w:])`, 'g'),
        `(${expr})`,
      );
    }
  }
  return text
    .replace(/\$__(rate_interval|interval|range)/g, WINDOW)
    .replace(/\[\d+[smh]\]/g, `[${WINDOW}]`)
    .replace(/\$(job|instance)\b/g, '.*')
    .replace(/\s+/g, ' ')
    .trim();
}

// ---- The target: metrics and labels taken from the expressions ----

interface Family {
  kind: 'counter' | 'gauge' | 'histogram';
  labels: Map<string, Set<string>>;
}

const TARGET_LABELS = new Set(['job', 'instance', 'le', '__name__']);
const BOUNDS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

/** A string each alternative of a label pattern matches: `.` as 0, a class as its first member, `x*` and `x?` as none. */
function examplesOf(pattern: string): string[] {
  return pattern.split('|').map((alternative) => {
    let out = '';
    for (let i = 0; i < alternative.length; i++) {
      let c = alternative[i] as string;
      if (c === '\\') c = alternative[++i] ?? '';
      else if (c === '[') {
        const end = alternative.indexOf(']', i + 2);
        c =
          alternative[alternative[i + 1] === '^' ? i + 2 : i + 1] === '.'
            ? '.'
            : (alternative[i + 1] as string);
        i = end;
      } else if (c === '.') c = '0';
      const next = alternative[i + 1];
      if (next === '*' || next === '?') i++;
      else {
        if (next === '+') i++;
        out += c;
      }
    }
    return out;
  });
}

function familiesOf(exprs: Expr[]): Map<string, Family> {
  const families = new Map<string, Family>();
  const buckets = new Set<string>();
  const uses: { metric: string; counter: boolean; labels: Map<string, string[]> }[] = [];
  const visit = (e: Expr, grouping: string[], counter: boolean): void => {
    switch (e.kind) {
      case 'selector':
      case 'rate':
      case 'range': {
        const labels = new Map<string, string[]>(grouping.map((label) => [label, []]));
        for (const m of e.selector.matchers) {
          const values = m.op.endsWith('~') ? examplesOf(m.value) : [m.value];
          labels.set(m.label, [...(labels.get(m.label) ?? []), ...values]);
        }
        const metric = e.selector.metric;
        if (metric.endsWith('_bucket')) buckets.add(metric.slice(0, -'_bucket'.length));
        uses.push({
          metric,
          counter: counter || e.kind === 'rate' || (e.kind === 'range' && e.fn === 'increase'),
          labels,
        });
        return;
      }
      case 'aggregate':
        visit(e.vector, [...grouping, ...(e.grouping?.labels ?? [])], counter);
        return;
      case 'histogram_quantile':
        visit(e.vector, grouping, counter);
        return;
      case 'negate':
        visit(e.operand, grouping, counter);
        return;
      case 'binary':
      case 'compare':
      case 'or':
        visit(e.left, grouping, counter);
        visit(e.right, grouping, counter);
        return;
      default:
        return;
    }
  };
  for (const e of exprs) visit(e, [], false);
  for (const { metric, counter, labels } of uses) {
    const base = metric.replace(/_(bucket|count|sum)$/, '');
    const histogram = buckets.has(base) && base !== metric;
    const name = histogram ? base : metric;
    const kind = histogram ? 'histogram' : counter || metric.endsWith('_total') ? 'counter' : 'gauge';
    const family = families.get(name) ?? { kind, labels: new Map() };
    families.set(name, family);
    for (const [label, values] of labels) {
      if (TARGET_LABELS.has(label)) continue;
      const known = family.labels.get(label) ?? new Set<string>();
      for (const value of values) if (value) known.add(value);
      family.labels.set(label, known);
    }
  }
  for (const family of families.values()) {
    // A value no matcher asks for, so that matchers also have something to leave out; at most 16.
    for (const [label, values] of family.labels)
      family.labels.set(label, new Set([...values, 'other'].slice(0, 16)));
  }
  return families;
}

function combinations(labels: Map<string, Set<string>>): Record<string, string>[] {
  let result: Record<string, string>[] = [{}];
  for (const [label, values] of labels) {
    result = result.flatMap((partial) => [...values].map((value) => ({ ...partial, [label]: value })));
  }
  return result.slice(0, 200);
}

/** Every series' value at scrape `step`: counters and buckets grow by a fixed amount per scrape. */
function exposition(families: Map<string, Family>, step: number): Map<string, number> {
  const sample = new Map<string, number>();
  for (const [name, family] of families) {
    combinations(family.labels).forEach((labels, i) => {
      if (family.kind === 'counter') sample.set(seriesKey(name, labels), 1_000 + (i % 4) * step);
      else if (family.kind === 'gauge') {
        const value = name.includes('timestamp') ? 1_700_000_000 + 1_000 * i : (i % 3) + (step % 2);
        sample.set(seriesKey(name, labels), value);
      } else {
        const perScrape = 2 + (i % 3) * 3;
        let cumulative = 0;
        BOUNDS.forEach((le, j) => {
          cumulative =
            le === '+Inf' ? perScrape : Math.min(perScrape, Math.floor((perScrape * (j + 1 + (i % 4))) / 10));
          sample.set(seriesKey(`${name}_bucket`, { ...labels, le }), cumulative * (100 + step));
        });
        sample.set(seriesKey(`${name}_count`, labels), cumulative * (100 + step));
        sample.set(seriesKey(`${name}_sum`, labels), 0.3 * perScrape * (100 + step));
      }
    });
  }
  return sample;
}

function withLabels(sample: Map<string, number>, extra: Record<string, string>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [key, value] of sample) {
    const brace = key.indexOf('{');
    const name = brace === -1 ? key : key.slice(0, brace);
    const labels: Record<string, string> = {};
    if (brace !== -1)
      for (const [, l, v] of key.slice(brace).matchAll(/(\w+)="([^"]*)"/g)) labels[l as string] = v as string;
    result.set(seriesKey(name, { ...labels, ...extra }), value);
  }
  return result;
}

// ---- The comparison ----

type Answer = number | Series[];

async function prometheusAnswer(url: string, query: string, at: number): Promise<Answer> {
  const params = new URLSearchParams({ query, time: (at / 1000).toFixed(3) });
  const response = await fetch(`${url}/api/v1/query?${params}`);
  const body = (await response.json()) as {
    status: string;
    error?: string;
    data: { resultType: string; result: unknown };
  };
  if (body.status !== 'success') throw new Error(`Prometheus refused it: ${body.error}`);
  if (body.data.resultType === 'scalar') return Number((body.data.result as [number, string])[1]);
  return (body.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => {
    const { __name__: _name, ...labels } = r.metric;
    return { labels, value: Number(r.value[1]) };
  });
}

/** The largest relative difference of two values found close, for the summary. */
let largestDifference = 0;

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  if (a === b) return true;
  const relative = Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));
  if (relative > RELATIVE_TOLERANCE) return false;
  largestDifference = Math.max(largestDifference, relative);
  return true;
}

/** Why two answers differ, or null when they agree. */
function difference(platform: Answer, prometheus: Answer): string | null {
  if (typeof platform === 'number' || typeof prometheus === 'number') {
    if (typeof platform === 'number' && typeof prometheus === 'number' && close(platform, prometheus))
      return null;
    return `platform ${JSON.stringify(platform)}, Prometheus ${JSON.stringify(prometheus)}`;
  }
  const theirs = new Map(prometheus.map((s) => [labelsKey(s.labels), s.value]));
  const ours = new Map(platform.map((s) => [labelsKey(s.labels), s.value]));
  const problems: string[] = [];
  for (const [key, value] of ours) {
    const other = theirs.get(key);
    if (other === undefined) problems.push(`only the platform has ${key}`);
    else if (!close(value, other)) problems.push(`${key}: platform ${value}, Prometheus ${other}`);
  }
  for (const key of theirs.keys()) if (!ours.has(key)) problems.push(`only Prometheus has ${key}`);
  return problems.length === 0 ? null : problems.slice(0, 3).join('; ');
}

describe('shipped dashboard and rule expressions: the platform against a real Prometheus', () => {
  const skip = prometheusSkipReason();
  const { shipped: rules, recorded } = ruleExpressions();
  const all = [...grafanaExpressions(), ...rules].map((s) => ({ ...s, query: prepared(s.source, recorded) }));
  const parsed = new Map<string, Expr>();
  const refused: string[] = [];
  for (const { where, query } of all) {
    try {
      parsed.set(query, parseExpression(query));
    } catch (error) {
      refused.push(`${where}: ${query}: ${(error as Error).message}`);
    }
  }

  it('parses every one of them', () => {
    expect(all.length).toBeGreaterThan(50);
    expect(refused).toEqual([]);
  });

  let prometheus: TestPrometheus | undefined;
  let server: Server | undefined;
  const history = new SampleHistory();
  let lastScrapeAt = 0;

  beforeAll(async () => {
    if (skip) return;
    const defaults = DEFAULT_ALERT_RULES.map((rule) => parseExpression(prepared(rule.expression, recorded)));
    const families = familiesOf([...parsed.values(), ...defaults]);
    const keep = new Set<string>();
    for (const expr of [...parsed.values(), ...defaults]) {
      for (const metric of rateRequirements(expr).metrics) keep.add(metric);
    }
    let step = 0;
    let frozen = false;
    let instance = '';
    let scraped: () => void = () => {};
    const enough = new Promise<void>((resolve) => {
      scraped = () => {
        if (step >= SCRAPES_BEFORE_QUERY) resolve();
      };
    });
    server = createServer((request, response) => {
      if (frozen || request.url !== '/metrics') {
        response.writeHead(503).end();
        return;
      }
      step++;
      const sample = exposition(families, step);
      // The platform's history gets what Prometheus gets, with the labels Prometheus adds to it.
      lastScrapeAt = Date.now();
      history.push(lastScrapeAt, withLabels(sample, { job: 'test', instance }), keep, 60_000);
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end([...sample].map(([key, value]) => `${key} ${value}\n`).join(''));
      if (step >= SCRAPES_BEFORE_QUERY) frozen = true;
      scraped();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    instance = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    prometheus = await startTestPrometheus({ targets: [instance] });
    await enough;
    // Let Prometheus store the last scrape before it is asked about it.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it.skipIf(skip)(
    'evaluates each to the same series and values as Prometheus, within 1 %',
    async () => {
      const url = prometheus?.url as string;
      const unequal: string[] = [];
      let equal = 0;
      let withData = 0;
      const empty: string[] = [];
      for (const { where, query } of all) {
        const expr = parsed.get(query);
        if (!expr) continue;
        const theirs = await prometheusAnswer(url, query, lastScrapeAt);
        const ours = evaluateVector(expr, history);
        if (ours === undefined) {
          unequal.push(`${where}: the platform had no answer`);
          continue;
        }
        let why = difference(ours, theirs);
        // One series (or none): the alert evaluator's single number must be that series' value (or no data).
        if (!why && Array.isArray(theirs) && theirs.length <= 1) {
          const single = evaluateExpression(expr, history) as number;
          const expected = theirs[0]?.value ?? Number.NaN;
          if (!close(single, expected)) why = `evaluateExpression ${single}, Prometheus ${expected}`;
        }
        if (why) unequal.push(`${where}: ${query}: ${why}`);
        else {
          equal++;
          if (typeof theirs === 'number' || theirs.length > 0) withData++;
          else empty.push(where);
        }
      }
      console.log(
        `${equal} of ${all.length} expressions equal (${withData} with data, the rest empty in both); ` +
          `${refused.length} refused by the parser; largest relative difference ${largestDifference.toExponential(2)}` +
          `\nempty in both: ${empty.join('; ')}`,
      );
      expect(unequal).toEqual([]);
      expect(equal).toBe(all.length);
    },
    60_000,
  );

  // default-rules.ts says each rule "sees the metrics of the instance that evaluates, summed over
  // their series"; platform-alerts.rules.yml computes the same alert per (job, instance). With one
  // instance scraped, the platform's number must be the sum of what Prometheus's alert expression
  // (its threshold comparison taken off) answers.
  it.skipIf(skip)('gives for each default alert rule the value of the shipped Prometheus alert', async () => {
    const url = prometheus?.url as string;
    const unequal: string[] = [];
    for (const rule of DEFAULT_ALERT_RULES) {
      const shipped = all.find((s) => s.where.endsWith(`: ${rule.name}`));
      if (!shipped) {
        unequal.push(`${rule.name}: not in deploy/prometheus`);
        continue;
      }
      const withoutThreshold =
        /^(.*?)\s*(?:==|!=|>=|<=|>|<)\s*-?[\d.]+$/s.exec(shipped.query)?.[1] ?? shipped.query;
      const theirs = await prometheusAnswer(url, withoutThreshold, lastScrapeAt);
      const expected =
        typeof theirs === 'number'
          ? theirs
          : theirs.length === 0
            ? Number.NaN
            : theirs.reduce((a, s) => a + s.value, 0);
      const ours = evaluateExpression(
        parseExpression(prepared(rule.expression, recorded)),
        history,
      ) as number;
      if (!close(ours, expected))
        unequal.push(`${rule.name}: platform ${ours}, Prometheus ${expected} (${withoutThreshold})`);
    }
    console.log(
      `${DEFAULT_ALERT_RULES.length - unequal.length} of ${DEFAULT_ALERT_RULES.length} default alert rules equal`,
    );
    expect(unequal).toEqual([]);
  });
});
