import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Whether the suite runs in CI. There, a test that lacks a real component (a binary, a browser)
 * must fail rather than skip.
 */
export function isCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The executable `binary` on PATH, or null. */
export function findOnPath(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

const warnedAbout = new Set<string>();

/**
 * Why the tests needing `binary` cannot run here, or null when they must run. Under CI=true this
 * is always null: a missing binary is a broken environment there, and starting it then fails the
 * tests instead of letting them skip.
 */
export function missingBinaryReason(binary: string, debianPackage: string, tests: string): string | null {
  if (findOnPath(binary) || isCI()) return null;
  const reason = `${binary} is not installed (Debian package "${debianPackage}"); install it to run these tests`;
  // Vitest's default reporter counts skipped tests without showing why; say it once.
  if (!warnedAbout.has(binary)) console.warn(`skipping the ${tests} tests: ${reason}`);
  warnedAbout.add(binary);
  return reason;
}
