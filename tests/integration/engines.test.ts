import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * The Node version the project asks for is one it really installs on: `engines.node` in
 * package.json, whose lowest version must satisfy the `engines.node` of every package in
 * package-lock.json (lockfile v3 records each package's engines), so `npm ci` on that Node prints
 * no EBADENGINE warning. A dependency bump that needs a newer Node fails here instead of warning
 * on every install; then either the bump or `engines` (and the README) changes.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface LockedPackage {
  version?: string;
  engines?: Record<string, string> | string[];
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines?: { node?: string };
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockedPackage>;
};

/** The lowest Node version package.json accepts. */
function minimumNode(): semver.SemVer {
  const range = manifest.engines?.node;
  expect(range, 'package.json names engines.node').toBeTruthy();
  expect(semver.validRange(range), `engines.node ${range} is a range`).not.toBeNull();
  const minimum = semver.minVersion(range!);
  if (!minimum) throw new Error(`engines.node ${range} accepts no version`);
  return minimum;
}

/** A package's node range: engines is an object, or in old packages a list like ["node >= 0.8"]. */
function nodeRange(engines: LockedPackage['engines']): string | undefined {
  if (Array.isArray(engines)) {
    return engines
      .filter((entry) => /^node\b/.test(entry))
      .map((entry) => entry.replace(/^node\s*/, ''))
      .join(' ');
  }
  return engines?.node;
}

describe('Node version (package.json engines)', () => {
  it('is accepted by the engines.node of every package in package-lock.json', () => {
    const minimum = minimumNode();
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
    const checked: string[] = [];
    const refused: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = nodeRange(entry.engines);
      if (range === undefined || range.trim() === '') continue;
      checked.push(path);
      if (semver.validRange(range) === null || !semver.satisfies(minimum, range)) {
        refused.push(`${path || '(root)'}@${entry.version}: node ${range}`);
      }
    }
    // The lockfile does record engines: an empty list would check nothing.
    expect(checked.length).toBeGreaterThan(10);
    expect(refused, `packages that refuse Node ${minimum.version}`).toEqual([]);
  });

  it('is the minimum the README names', () => {
    const minimum = minimumNode();
    const named = `${minimum.major}.${minimum.minor}${minimum.patch ? `.${minimum.patch}` : ''}`;
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const versions = [...readme.matchAll(/\bNode(?:\.js)? v?(\d+(?:\.\d+){0,2}) or later/g)].map((m) => m[1]);
    expect(versions.length, 'README names a minimum Node version').toBeGreaterThan(0);
    for (const version of versions) expect(version).toBe(named);
  });
});
