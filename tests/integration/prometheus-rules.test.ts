import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, type TestContext } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_ALERT_RULES } from '../../server/services/alerts/default-rules';
import { findOnPath, isCI } from '../helpers/components';
import { unguardedRateDivisors } from '../helpers/promql-ratios';

const DIRECTORY = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const RULES = join(DIRECTORY, 'platform-alerts.rules.yml');
const TESTS = join(DIRECTORY, 'platform-alerts.tests.yml');
const RECORDING_RULES = join(DIRECTORY, 'platform-recording.rules.yml');
const RECORDING_TESTS = join(DIRECTORY, 'platform-recording.tests.yml');
const SCRAPE_CONFIG = join(DIRECTORY, 'prometheus.yml');
/** Every rule file shipped: each one is checked and must have a `.tests.yml` twin. */
const RULE_FILES = readdirSync(DIRECTORY)
  .filter((name) => name.endsWith('.rules.yml'))
  .sort();

/** promtool, or a skipped test outside CI; in CI its absence is a broken environment, never a pass. */
function promtool(ctx: TestContext): string {
  const found = findOnPath('promtool');
  if (found) return found;
  const reason = 'promtool is not installed (Debian package "prometheus")';
  if (isCI()) throw new Error(`${reason}; CI must install it`);
  ctx.skip(reason);
  throw new Error('unreachable');
}

function run(binary: string, args: string[], cwd = DIRECTORY) {
  const result = spawnSync(binary, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface FileRule {
  name: string;
  expr: string;
  forSeconds: number;
  severity: string;
  annotations: Record<string, string>;
}

/**
 * The alerts of the rule file. A few patterns rather than a YAML parser (the project has none):
 * the file's layout is fixed, and `promtool check rules` has already judged it as YAML.
 */
function fileRules(text: string): FileRule[] {
  return text
    .split(/^\s*- alert: /m)
    .slice(1)
    .map((block) => {
      const field = (name: string) => {
        const value = new RegExp(`^\\s*${name}: (.*)$`, 'm').exec(block)?.[1]?.trim() ?? '';
        return value.startsWith('"') ? (JSON.parse(value) as string) : value;
      };
      const expr = /expr: (?:\|\n)?([\s\S]*?)\n\s*for:/.exec(block)?.[1]?.replace(/\s+/g, ' ').trim() ?? '';
      const forText = field('for');
      const unit = { s: 1, m: 60, h: 3_600 }[forText.slice(-1)] ?? Number.NaN;
      return {
        name: block.split('\n')[0]?.trim() ?? '',
        expr,
        forSeconds: Number(forText.slice(0, -1)) * unit,
        severity: field('severity'),
        annotations: { summary: field('summary'), description: field('description') },
      };
    });
}

describe('deploy/prometheus/platform-alerts.rules.yml', () => {
  it('passes `promtool check rules`', (ctx) => {
    const result = run(promtool(ctx), ['check', 'rules', RULES]);
    expect(result.output).toContain(`SUCCESS: ${DEFAULT_ALERT_RULES.length} rules found`);
    expect(result.status).toBe(0);
  });

  it('passes its unit tests with `promtool test rules`', (ctx) => {
    const result = run(promtool(ctx), ['test', 'rules', TESTS]);
    expect(result.output).toContain('SUCCESS');
    expect(result.output).not.toContain('FAILED');
    expect(result.status).toBe(0);
  });

  it('names the same alerts as the default rules in code, with the same severity, for, threshold and annotations', () => {
    const inFile = fileRules(readFileSync(RULES, 'utf8'));
    expect(inFile.map((r) => r.name)).toEqual(DEFAULT_ALERT_RULES.map((r) => r.name));
    for (const rule of DEFAULT_ALERT_RULES) {
      const twin = inFile.find((r) => r.name === rule.name) as FileRule;
      expect(twin.severity, rule.name).toBe(rule.severity);
      expect(twin.forSeconds, rule.name).toBe(rule.for_seconds);
      expect(twin.annotations, rule.name).toEqual(rule.annotations);
      expect(twin.expr.endsWith(`${rule.comparator} ${rule.threshold}`), `${rule.name}: ${twin.expr}`).toBe(
        true,
      );
    }
  });

  it('has a promtool unit test for every alert', () => {
    const tests = readFileSync(TESTS, 'utf8');
    for (const rule of DEFAULT_ALERT_RULES) {
      expect(tests, rule.name).toMatch(
        new RegExp(`alertname: ${rule.name}\\n\\s*exp_alerts:\\n\\s*- exp_labels`),
      );
    }
  });
});

interface RuleFile {
  groups: {
    name: string;
    rules: { record?: string; alert?: string; expr: string; labels?: Record<string, string> }[];
  }[];
}
interface RuleTests {
  rule_files: string[];
  tests: { promql_expr_test?: { expr: string }[] }[];
}
const rulesOf = (path: string) => parse(readFileSync(path, 'utf8')) as RuleFile;

describe('every rule file in deploy/prometheus', () => {
  it('ships the alert and the recording rules', () => {
    expect(RULE_FILES).toEqual(['platform-alerts.rules.yml', 'platform-recording.rules.yml']);
  });

  for (const file of RULE_FILES) {
    it(`${file} passes \`promtool check rules\` with every lint fatal`, (ctx) => {
      const count = rulesOf(join(DIRECTORY, file)).groups.flatMap((g) => g.rules).length;
      const result = run(promtool(ctx), ['check', 'rules', '--lint=all', '--lint-fatal', file]);
      expect(result.output).toContain(`SUCCESS: ${count} rules found`);
      expect(result.status).toBe(0);
    });

    it(`${file} passes its unit tests with \`promtool test rules\``, (ctx) => {
      const tests = file.replace(/\.rules\.yml$/, '.tests.yml');
      expect(existsSync(join(DIRECTORY, tests)), `${tests} is missing`).toBe(true);
      expect((parse(readFileSync(join(DIRECTORY, tests), 'utf8')) as RuleTests).rule_files).toEqual([file]);
      const result = run(promtool(ctx), ['test', 'rules', tests]);
      expect(result.output).toContain('SUCCESS');
      expect(result.output).not.toContain('FAILED');
      expect(result.status).toBe(0);
    });
  }
});

describe('ratios in deploy/prometheus', () => {
  it('find an unguarded rate divisor, and accept one guarded by `> 0`', () => {
    expect(unguardedRateDivisors('sum(rate(a[5m])) / sum by (job) (rate(b{route="/x"}[5m])) > 0.05')).toEqual(
      ['sum by (job) (rate(b{route=""}[5m]))'],
    );
    expect(unguardedRateDivisors('sum(rate(a[5m])) / (sum by (job) (rate(b[5m])) > 0) > 0.05')).toEqual([]);
    expect(unguardedRateDivisors('sum(a) / sum(b)')).toEqual([]);
  });

  it('divide by a rate only where it is above 0, so a quiet window is no data rather than NaN', () => {
    const unguarded = RULE_FILES.flatMap((file) =>
      rulesOf(join(DIRECTORY, file))
        .groups.flatMap((g) => g.rules)
        .flatMap((rule) =>
          unguardedRateDivisors(rule.expr).map((d) => `${file}: ${rule.record ?? rule.alert}: ${d}`),
        ),
    );
    expect(unguarded).toEqual([]);
  });
});

describe('deploy/prometheus/platform-recording.rules.yml', () => {
  const rules = rulesOf(RECORDING_RULES).groups.flatMap((g) => g.rules);

  it('holds recording rules only, named level:metric:operations', () => {
    expect(rules.length).toBeGreaterThan(20);
    for (const rule of rules) {
      expect(rule.alert, JSON.stringify(rule)).toBeUndefined();
      expect(rule.record, rule.expr).toMatch(/^[a-z_]+:[a-z_]+:[a-z0-9_]+$/);
    }
  });

  it('gives each record name and label set one rule', () => {
    const keys = rules.map((r) => `${r.record} ${JSON.stringify(r.labels ?? {})}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('has a promtool unit test evaluating every record name', () => {
    const tests = parse(readFileSync(RECORDING_TESTS, 'utf8')) as RuleTests;
    const evaluated = tests.tests.flatMap((t) => (t.promql_expr_test ?? []).map((e) => e.expr));
    const untested = [...new Set(rules.map((r) => r.record as string))].filter(
      (record) =>
        // A bucket rate is tested through the quantiles computed from it.
        !evaluated.some((expr) => expr.startsWith(record)) &&
        !rules.some(
          (r) => r.expr.includes(record) && evaluated.some((expr) => expr.startsWith(r.record as string)),
        ),
    );
    expect(untested).toEqual([]);
  });
});

describe('deploy/prometheus/prometheus.yml', () => {
  interface ScrapeConfig {
    rule_files: string[];
    scrape_configs: {
      job_name: string;
      metrics_path: string;
      authorization?: { type: string; credentials_file?: string; credentials?: string };
      static_configs?: { targets: string[] }[];
    }[];
  }
  const config = parse(readFileSync(SCRAPE_CONFIG, 'utf8')) as ScrapeConfig;

  it('loads every rule file and scrapes /metrics with the bearer token from a file, never inline', () => {
    expect([...config.rule_files].sort()).toEqual(RULE_FILES);
    expect(config.scrape_configs.length).toBeGreaterThan(0);
    for (const job of config.scrape_configs) {
      expect(job.metrics_path, job.job_name).toBe('/metrics');
      expect(job.authorization?.type, job.job_name).toBe('Bearer');
      expect(job.authorization?.credentials_file, job.job_name).toMatch(/^\//);
      expect(job.authorization?.credentials, job.job_name).toBeUndefined();
    }
  });

  it('passes `promtool check config --syntax-only` as shipped', (ctx) => {
    const result = run(promtool(ctx), ['check', 'config', '--syntax-only', 'prometheus.yml']);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('passes the full `promtool check config` (rule files included) once its credentials file exists', (ctx) => {
    const binary = promtool(ctx);
    // The full check stats the credentials file: a copy points at one that exists, and nothing else changes.
    const dir = mkdtempSync(join(tmpdir(), 'bc-prometheus-config-'));
    try {
      const token = join(dir, 'platform-metrics-token');
      writeFileSync(token, 'a-metrics-token-of-the-test-0123\n');
      for (const file of RULE_FILES) writeFileSync(join(dir, file), readFileSync(join(DIRECTORY, file)));
      const shipped = readFileSync(SCRAPE_CONFIG, 'utf8');
      const files = new Set(config.scrape_configs.map((j) => j.authorization?.credentials_file as string));
      let copy = shipped;
      for (const file of files) copy = copy.replaceAll(file, token);
      expect(copy).not.toBe(shipped);
      writeFileSync(join(dir, 'prometheus.yml'), copy);
      const result = run(binary, ['check', 'config', '--lint=all', '--lint-fatal', 'prometheus.yml'], dir);
      expect(result.output).toContain(`SUCCESS: ${RULE_FILES.length} rule files found`);
      for (const file of RULE_FILES) {
        const count = rulesOf(join(DIRECTORY, file)).groups.flatMap((g) => g.rules).length;
        expect(result.output).toContain(`Checking ${file}\n  SUCCESS: ${count} rules found`);
      }
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
