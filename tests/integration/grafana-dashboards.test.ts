import { readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createClient, type PlatformClient } from '../../client';
import { startTestApp, TEST_ADMIN, type TestApp } from '../helpers/app';
import { type DeploymentReceiver, startDeploymentReceiver } from '../helpers/deployment-receiver';
import { eventually } from '../helpers/deployments';
import { prometheusSkipReason, startTestPrometheus, type TestPrometheus } from '../helpers/prometheus-server';
import { unguardedRateDivisors } from '../helpers/promql-ratios';

/**
 * The Grafana dashboards and the Prometheus rules, proven against the real thing: the platform
 * serving on a port, a real Prometheus started from deploy/prometheus/prometheus.yml's own scrape
 * job (bearer token from a credentials file) with both rule files loaded, and a little traffic
 * touching every dashboard's subject. Every panel query of every dashboard, with Grafana's
 * variables substituted the way Grafana would, must be valid PromQL and return at least one
 * series; so must every recording rule, and every rule must evaluate without error.
 */

const GRAFANA = fileURLToPath(new URL('../../deploy/grafana/', import.meta.url));
const PROMETHEUS = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const METRICS_TOKEN = 'grafana-dashboards-metrics-token-0123';
const WEBHOOK_SECRET = 'grafana-dashboards-webhook-secret-0123';
/**
 * What Grafana puts for `$__rate_interval` with a 1 s scrape interval is 4 s (four scrapes); a
 * little more absorbs scrape jitter on a busy machine, and traffic keeps running meanwhile.
 */
const RATE_INTERVAL = '10s';
/** `$__range`: the whole life of this test's Prometheus fits in it. */
const RANGE = '5m';
/** How a panel names the dashboard's data-source variable, so one import serves any Prometheus. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JavaScript template
const DATASOURCE_REF = '${datasource}';

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  includeAll?: boolean;
  multi?: boolean;
  allValue?: string;
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}
interface RuleFile {
  groups: {
    name: string;
    rules: { record?: string; alert?: string; expr: string; labels?: Record<string, string> }[];
  }[];
}

const DASHBOARD_FILES = readdirSync(GRAFANA)
  .filter((name) => name.endsWith('.json'))
  .sort();
const dashboards = DASHBOARD_FILES.map((file) => ({
  file,
  dashboard: JSON.parse(readFileSync(join(GRAFANA, file), 'utf8')) as Dashboard,
}));
const recordingRules = (
  parse(readFileSync(join(PROMETHEUS, 'platform-recording.rules.yml'), 'utf8')) as RuleFile
).groups.flatMap((g) => g.rules);

/** Every panel, those inside collapsed rows included. */
function panelsOf(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}
function targetsOf(dashboard: Dashboard): { panel: Panel; target: Target }[] {
  return panelsOf(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));
}

// --- PromQL, read just enough to name the metrics an expression selects ------------------------

/** PromQL's functions, aggregations and keywords that these files use or might (not metric names). */
// biome-ignore format: a word list reads best packed
const PROMQL_WORDS = new Set([
  'sum', 'min', 'max', 'avg', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values',
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset',
  'rate', 'irate', 'increase', 'delta', 'idelta', 'deriv', 'changes', 'resets', 'histogram_quantile',
  'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'last_over_time',
  'quantile_over_time', 'time', 'vector', 'scalar', 'abs', 'clamp_min', 'clamp_max', 'clamp', 'round',
  'label_replace', 'label_join', 'sort', 'sort_desc', 'absent', 'timestamp', 'inf', 'nan',
]);

/**
 * The metric names an expression selects: string literals, label matchers, ranges and grouping
 * clauses removed, what remains that is not a PromQL word is a metric name.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]);
  return [...new Set(names.filter((name) => !PROMQL_WORDS.has(name)))];
}

/**
 * Selectors that ignore the dashboard's job and instance variables: every metric a panel reads
 * must be narrowed by both, or the panel shows every job whatever the operator picked.
 */
function unscopedSelectors(expr: string): string[] {
  const scoped = /\{[^}]*job=~"\$job"[^}]*instance=~"\$instance"[^}]*\}/;
  return metricNames(expr).filter((name) => {
    const uses = [...expr.matchAll(new RegExp(`(?<![\\w:])${name}(?![\\w:])(\\{[^}]*\\})?`, 'g'))];
    return uses.some((use) => !use[1] || !scoped.test(use[1]));
  });
}

// --- Grafana's variables ------------------------------------------------------------------------

/** Escapes a label value for a regex matcher, as Grafana's Prometheus data source does. */
function regexEscape(value: string): string {
  return value.replace(/[\\^$*+?.()|{}[\]]/g, '\\$&');
}

function substitute(expr: string, values: Record<string, string>): string {
  let out = expr
    .replaceAll('$__rate_interval', RATE_INTERVAL)
    .replaceAll('$__interval', '2s')
    .replaceAll('$__range', RANGE);
  // Longest names first, so `$instance` is never read as `$inst` + "ance".
  for (const name of Object.keys(values).sort((a, b) => b.length - a.length)) {
    out = out
      .replaceAll(`\${${name}}`, values[name] as string)
      .replaceAll(`$${name}`, values[name] as string);
  }
  return out;
}

// --- The platform, Prometheus and traffic -------------------------------------------------------

let t: TestApp;
let server: ReturnType<typeof serve>;
let base: string;
let receiver: DeploymentReceiver;
let prometheus: TestPrometheus | undefined;
let traffic: { stop(): Promise<void> } | undefined;
let exported: Set<string>;
const skip = prometheusSkipReason();

async function prometheusQuery(
  query: string,
): Promise<{ status: string; error?: string; data?: { resultType: string; result: unknown } }> {
  const url = `${prometheus?.url}/api/v1/query?query=${encodeURIComponent(query)}`;
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return (await response.json()) as {
    status: string;
    error?: string;
    data?: { resultType: string; result: unknown };
  };
}

/** Series a query returns (a scalar counts as one), with how many carry a finite value. */
async function seriesOf(
  query: string,
): Promise<{ error?: string; series: number; finite: number; labels: Record<string, string>[] }> {
  const answer = await prometheusQuery(query);
  if (answer.status !== 'success' || !answer.data)
    return { error: answer.error ?? answer.status, series: 0, finite: 0, labels: [] };
  if (answer.data.resultType === 'scalar') {
    const value = Number((answer.data.result as [number, string])[1]);
    return { series: 1, finite: Number.isFinite(value) ? 1 : 0, labels: [] };
  }
  const result = answer.data.result as { metric: Record<string, string>; value: [number, string] }[];
  return {
    series: result.length,
    finite: result.filter((r) => Number.isFinite(Number(r.value[1]))).length,
    labels: result.map((r) => r.metric),
  };
}

async function trpc(path: string, input: unknown, headers: Record<string, string> = {}, method = 'POST') {
  const url =
    method === 'GET'
      ? `${base}/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`
      : `${base}/api/trpc/${path}`;
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(method === 'POST' ? { body: JSON.stringify(input ?? {}) } : {}),
  });
  return {
    status: response.status,
    body: (await response.json()) as { result?: { data?: Record<string, unknown> } },
  };
}

/** One round of the traffic every dashboard reads: probes, queries allowed and refused, sign-ins. */
async function oneRound(client: PlatformClient): Promise<void> {
  await Promise.all([
    fetch(`${base}/api/health/lightweight`).then((r) => r.body?.cancel()),
    fetch(`${base}/api/health/ready`).then((r) => r.body?.cancel()),
    trpc('system.info', undefined, {}, 'GET'),
    client.devops.deployments.list.query({}),
    client.devops.backups.list.query({}),
    // Answered from the cache most of the time: the cache panels' lookups.
    client.system.status.query(),
    // Refused: no credentials, an unknown API key, a forged access token.
    trpc('devops.backups.list', {}, {}, 'GET'),
    trpc('devops.backups.list', {}, { authorization: 'Bearer bc_live_unknownkey0123456789abcdef' }, 'GET'),
    trpc('devops.backups.list', {}, { authorization: 'Bearer not.a-valid.jwt' }, 'GET'),
  ]);
  const signedIn = await trpc('auth.login', TEST_ADMIN);
  expect(signedIn.status).toBe(200);
  const refreshed = await trpc('auth.refresh', { refreshToken: signedIn.body.result?.data?.refreshToken });
  expect(refreshed.status).toBe(200);
}

/** The one-off operations the devops and key panels read: each happens once, for real. */
async function operations(client: PlatformClient): Promise<void> {
  await client.auth.apiKeys.create.mutate({ name: 'dashboards test key', scopes: ['devops:read'] });
  // One failed sign-in only: a few more and the login throttle would lock the admin out of the
  // successful ones the traffic keeps making.
  const failed = await trpc('auth.login', { email: TEST_ADMIN.email, password: 'a wrong password, refused' });
  expect(failed.status).toBe(401);
  const backup = await client.devops.backups.create.mutate({ wait: true });
  expect(backup.status).toBe('succeeded');
  const deployment = await client.devops.deployments.create.mutate({
    service: 'shop',
    environment: 'staging',
    version: '1.1.0',
    stableVersion: '1.0.0',
    spec: { strategy: 'canary', steps: [{ setWeight: 50 }] },
    provider: { kind: 'webhook', config: { url: receiver.url, secret: WEBHOOK_SECRET } },
  });
  await eventually('the deployment to be promoted', async () => {
    const d = await client.devops.deployments.get.query({ id: deployment.id });
    return d.status === 'promoted';
  });
  // Maintenance mode: one mutation refused with a real 503, then back to normal.
  await client.devops.maintenance.set.mutate({
    enabled: true,
    message: 'dashboards test',
    retryAfterSeconds: 5,
  });
  const refused = await trpc('system.annotations.create', { text: 'refused in maintenance' }, t.admin);
  expect(refused.status).toBe(503);
  await client.devops.maintenance.set.mutate({ enabled: false });
}

beforeAll(async () => {
  if (skip) return;
  t = await startTestApp({
    LOG_LEVEL: 'warn',
    METRICS_TOKEN,
    // The deployment receiver listens on 127.0.0.1.
    DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true',
  });
  server = serve({ fetch: t.app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  receiver = await startDeploymentReceiver(WEBHOOK_SECRET);

  // Prometheus runs the shipped scrape job (its path and bearer authorization) and the shipped
  // rule files; only the targets, the interval and the credentials file are the test's.
  const shipped = parse(readFileSync(join(PROMETHEUS, 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: Record<string, unknown>[];
  };
  prometheus = await startTestPrometheus({
    targets: [`127.0.0.1:${port}`],
    job: shipped.scrape_configs[0],
    bearerToken: METRICS_TOKEN,
    ruleFiles: shipped.rule_files.map((file) => join(PROMETHEUS, file)),
  });

  const client = createClient({ url: base, headers: t.admin });
  await oneRound(client);
  await operations(client);
  let running = true;
  const loop = (async () => {
    while (running) {
      await oneRound(client);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  traffic = {
    async stop() {
      running = false;
      await loop;
    },
  };

  const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(metrics.status).toBe(200);
  exported = new Set(
    (await metrics.text())
      .split('\n')
      .filter((line) => line.startsWith('# TYPE '))
      .flatMap((line) => {
        const [, , name, type] = line.split(' ') as [string, string, string, string];
        return type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
      }),
  );

  // Ready once the operations are scraped (the promoted deployment and the backup are in
  // Prometheus) and the recording rules that read other recording rules have recorded.
  await eventually(
    'Prometheus to scrape the operations and evaluate the rules',
    async () => {
      const [promoted, size, quantiles] = await Promise.all([
        seriesOf('deployments{status="promoted"} == 1'),
        seriesOf('backup_last_size_bytes > 0'),
        seriesOf('job:http_server_request_duration_seconds:histogram_quantile5m'),
      ]);
      return promoted.series > 0 && size.series > 0 && quantiles.series > 0;
    },
    20_000,
  );
  // A few more scrapes of the running traffic: every rate window holds samples of it.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
}, 60_000);

afterAll(async () => {
  await traffic?.stop();
  await prometheus?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await receiver?.close();
  await t?.close();
});

describe.skipIf(skip !== null)('Grafana dashboards (deploy/grafana) against a real Prometheus', () => {
  it('are the four dashboards: overview, database, auth, devops', () => {
    expect(DASHBOARD_FILES).toEqual([
      'platform-auth.json',
      'platform-database.json',
      'platform-devops.json',
      'platform-overview.json',
    ]);
  });

  it('each have a unique uid and title, unique panel ids and a Prometheus data-source variable every panel uses', () => {
    const uids = dashboards.map((d) => d.dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    const titles = dashboards.map((d) => d.dashboard.title);
    expect(new Set(titles).size).toBe(titles.length);
    for (const { file, dashboard } of dashboards) {
      expect(dashboard.uid, file).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
      const ids = panelsOf(dashboard).map((p) => p.id);
      expect(new Set(ids).size, `${file}: panel ids`).toBe(ids.length);
      const datasource = dashboard.templating.list.find((v) => v.name === 'datasource');
      expect(datasource, file).toMatchObject({ type: 'datasource', query: 'prometheus' });
      const targets = targetsOf(dashboard);
      expect(targets.length, file).toBeGreaterThan(8);
      for (const { panel, target } of targets) {
        expect(panel.datasource?.uid, `${file}: ${panel.title}`).toBe(DATASOURCE_REF);
        expect(target.datasource?.uid ?? DATASOURCE_REF, `${file}: ${panel.title}`).toBe(DATASOURCE_REF);
        expect(target.expr.trim(), `${file}: ${panel.title}`).not.toBe('');
      }
      for (const panel of panelsOf(dashboard).filter((p) => p.targets)) {
        const refIds = (panel.targets ?? []).map((x) => x.refId);
        expect(new Set(refIds).size, `${file}: ${panel.title} refIds`).toBe(refIds.length);
      }
    }
  });

  it('read only metrics the platform exports, each narrowed by the job and instance variables', () => {
    const unknown: string[] = [];
    const unscoped: string[] = [];
    for (const { file, dashboard } of dashboards) {
      for (const { panel, target } of targetsOf(dashboard)) {
        const names = metricNames(target.expr);
        expect(names.length, `${file}: ${panel.title}: ${target.expr}`).toBeGreaterThan(0);
        for (const name of names) if (!exported.has(name)) unknown.push(`${file}: ${panel.title}: ${name}`);
        for (const name of unscopedSelectors(target.expr)) unscoped.push(`${file}: ${panel.title}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(unscoped).toEqual([]);
  });

  it('divide by a rate only where it is above 0, so a quiet window shows no data rather than NaN', () => {
    const unguarded = dashboards.flatMap(({ file, dashboard }) =>
      targetsOf(dashboard).flatMap(({ panel, target }) =>
        unguardedRateDivisors(target.expr).map((d) => `${file}: ${panel.title}: ${d}`),
      ),
    );
    expect(unguarded).toEqual([]);
  });

  it('answer every panel query with at least one series, variables resolved as Grafana does', async () => {
    const failures: string[] = [];
    let evaluated = 0;
    let withData = 0;
    let finite = 0;
    const notFinite: string[] = [];
    for (const { file, dashboard } of dashboards) {
      // Query variables resolve in order through Prometheus's label-values API, like Grafana's
      // `label_values(selector, label)`; an "All" selection becomes its allValue.
      const values: Record<string, string> = { datasource: 'prometheus' };
      for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
        const query = typeof variable.query === 'string' ? variable.query : variable.query.query;
        const match = /^label_values\((?:(.+),\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(query.trim());
        expect(match, `${file}: variable ${variable.name}: ${query}`).not.toBeNull();
        const [, selector, label] = match as RegExpExecArray;
        const params = selector ? `?match[]=${encodeURIComponent(substitute(selector, values))}` : '';
        const response = await fetch(`${prometheus?.url}/api/v1/label/${label}/values${params}`);
        const found = ((await response.json()) as { data: string[] }).data;
        expect(found.length, `${file}: variable ${variable.name} has no value`).toBeGreaterThan(0);
        values[variable.name] =
          variable.includeAll && variable.allValue
            ? variable.allValue
            : variable.multi
              ? `(${found.map(regexEscape).join('|')})`
              : (found[0] as string);
      }
      for (const { panel, target } of targetsOf(dashboard)) {
        const query = substitute(target.expr, values);
        expect(query, `${file}: ${panel.title}: a variable left unresolved`).not.toMatch(/\$/);
        const result = await seriesOf(query);
        evaluated++;
        if (result.error)
          failures.push(`${file}: ${panel.title} [${target.refId}]: ${result.error}: ${query}`);
        else if (result.series === 0)
          failures.push(`${file}: ${panel.title} [${target.refId}]: no series: ${query}`);
        else withData++;
        if (result.finite > 0) finite++;
        else if (result.series > 0) notFinite.push(`${file}: ${panel.title} [${target.refId}]`);
      }
    }
    console.info(
      `dashboard panel queries: ${evaluated} evaluated, ${withData} returned series, ${finite} with a finite value` +
        (notFinite.length ? ` (NaN only: ${notFinite.join('; ')})` : ''),
    );
    expect(failures).toEqual([]);
    expect(evaluated).toBeGreaterThan(60);
    // The traffic feeds every panel: none may show only NaN (a ratio or quantile over a window
    // without a single request) or the dashboard would be proven on nothing.
    expect(notFinite).toEqual([]);
  });
});

describe.skipIf(skip !== null)('Prometheus rules (deploy/prometheus) against the running platform', () => {
  it('evaluate every rule without error, alerts included', async () => {
    const response = await fetch(`${prometheus?.url}/api/v1/rules`);
    const groups = (
      (await response.json()) as {
        data: {
          groups: {
            file: string;
            rules: { name: string; health: string; lastError?: string; type: string }[];
          }[];
        };
      }
    ).data.groups;
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.filter((r) => r.type === 'recording')).toHaveLength(recordingRules.length);
    expect(rules.filter((r) => r.type === 'alerting').length).toBeGreaterThan(0);
    const unhealthy = rules
      .filter((r) => r.health !== 'ok')
      .map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
    expect(unhealthy).toEqual([]);
  });

  it('record at least one series for every recording rule, labelled by its level', async () => {
    const failures: string[] = [];
    const notFinite: string[] = [];
    let finite = 0;
    for (const rule of recordingRules) {
      const record = rule.record as string;
      const direct = await seriesOf(rule.expr);
      if (direct.error || direct.series === 0)
        failures.push(`${record}: expr gave ${direct.error ?? 'no series'}`);
      const matchers = Object.entries(rule.labels ?? {})
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      const recorded = await seriesOf(`${record}{${matchers}}`);
      if (recorded.series === 0) failures.push(`${record}{${matchers}}: nothing recorded`);
      if (recorded.finite > 0) finite++;
      else if (recorded.series > 0) notFinite.push(record);
      // `level` names the labels kept; an `instance` level keeps job too.
      const level = record.split(':')[0] as string;
      const expected = new Set(level === 'instance' ? ['job', 'instance'] : level.split('_'));
      for (const name of Object.keys(rule.labels ?? {})) expected.add(name);
      expected.add('__name__');
      for (const labels of recorded.labels) {
        const keys = Object.keys(labels).sort();
        if (keys.join() !== [...expected].sort().join())
          failures.push(`${record}: labels ${keys.join(', ')}`);
      }
    }
    console.info(
      `recording rules: ${recordingRules.length} evaluated, ${finite} recorded a finite value` +
        (notFinite.length ? ` (NaN only: ${notFinite.join('; ')})` : ''),
    );
    expect(failures).toEqual([]);
    expect(notFinite).toEqual([]);
  });

  it('read only metrics the platform exports or other rules record', () => {
    const records = new Set(recordingRules.map((r) => r.record as string));
    const alerts = (
      parse(readFileSync(join(PROMETHEUS, 'platform-alerts.rules.yml'), 'utf8')) as RuleFile
    ).groups.flatMap((g) => g.rules);
    const unknown = [...recordingRules, ...alerts].flatMap((rule) =>
      metricNames(rule.expr)
        .filter((name) => !exported.has(name) && !records.has(name))
        .map((name) => `${rule.record ?? rule.alert}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});
