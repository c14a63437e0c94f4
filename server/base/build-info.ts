import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface BuildInfo {
  name: string;
  version: string;
  commit: string;
  runtime: 'bun' | 'node' | 'workerd';
  runtimeVersion: string;
}

declare const Bun: { version: string } | undefined;

/** Which runtime runs us: Bun, Node, or (for the edge build) workerd. */
export function detectRuntime(): Pick<BuildInfo, 'runtime' | 'runtimeVersion'> {
  if (typeof Bun !== 'undefined') return { runtime: 'bun', runtimeVersion: Bun.version };
  if (typeof navigator !== 'undefined' && navigator.userAgent === 'Cloudflare-Workers') {
    return { runtime: 'workerd', runtimeVersion: 'cloudflare-workers' };
  }
  return { runtime: 'node', runtimeVersion: process.versions?.node ?? 'unknown' };
}

/**
 * Version from package.json, commit from GIT_COMMIT (set by the image build) or, in a checkout,
 * from git itself. Read once at start.
 */
export function readBuildInfo(env: Record<string, string | undefined> = process.env): BuildInfo {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  return { name: pkg.name, version: pkg.version, commit: env.GIT_COMMIT || gitCommit(), ...detectRuntime() };
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
      cwd: new URL('../..', import.meta.url),
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 2000,
    })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}
