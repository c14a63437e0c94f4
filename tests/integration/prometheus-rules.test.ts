import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, type TestContext } from 'vitest';
import { DEFAULT_ALERT_RULES } from '../../server/services/alerts/default-rules';
import { findOnPath } from '../helpers/components';

const DIRECTORY = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const RULES = join(DIRECTORY, 'platform-alerts.rules.yml');
const TESTS = join(DIRECTORY, 'platform-alerts.tests.yml');

/** promtool, or a skipped test outside CI; in CI its absence is a broken environment, never a pass. */
function promtool(ctx: TestContext): string {
  const found = findOnPath('promtool');
  if (found) return found;
  const reason = 'promtool is not installed (Debian package "prometheus")';
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must install it`);
  ctx.skip(reason);
  throw new Error('unreachable');
}

function run(binary: string, args: string[]) {
  const result = spawnSync(binary, args, { cwd: DIRECTORY, encoding: 'utf8', timeout: 30_000 });
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
