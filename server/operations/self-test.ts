import type { SelfTestReport } from '../../shared/system';
import { PlatformError } from '../base/errors';
import type { Component } from '../base/initializer';
import { withTimeout } from './health';

/** Bound on each self-test check, so one hung dependency fails its own check only. */
const CHECK_TIMEOUT_MS = 5_000;

/**
 * Runs every registered component's self-tests against the live system (real writes, reads and
 * deletes), one after another so their timings do not disturb each other.
 */
export async function runSelfTest(components: Component[], only?: string[]): Promise<SelfTestReport> {
  // A name that matches no component would run nothing and report "pass": say so instead.
  const unknown = only?.filter((name) => !components.some((c) => c.name === name)) ?? [];
  if (unknown.length > 0) {
    throw new PlatformError(
      'BAD_REQUEST',
      `unknown components: ${unknown.join(', ')}; known: ${components.map((c) => c.name).join(', ')}`,
    );
  }
  const startedAt = new Date();
  const started = performance.now();
  const checks: SelfTestReport['checks'] = [];
  for (const component of components) {
    if (only && !only.includes(component.name)) continue;
    for (const test of component.selfTests ?? []) {
      const t0 = performance.now();
      let error: string | null = null;
      try {
        await withTimeout(test.run(), CHECK_TIMEOUT_MS);
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      checks.push({
        component: component.name,
        name: test.name,
        status: error ? 'fail' : 'pass',
        durationMs: Math.round((performance.now() - t0) * 100) / 100,
        error,
      });
    }
  }
  return {
    status: checks.every((c) => c.status === 'pass') ? 'pass' : 'fail',
    startedAt: startedAt.toISOString(),
    durationMs: Math.round((performance.now() - started) * 100) / 100,
    checks,
  };
}
