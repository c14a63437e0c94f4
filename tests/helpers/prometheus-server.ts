import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../db/local-processes';
import { findOnPath, missingBinaryReason } from './components';

/**
 * A real Prometheus server (the Debian package's `prometheus` binary) for one test file: its own
 * port, a temporary configuration scraping the given targets every second, a temporary storage
 * directory. Every server started here is remembered, and an 'exit' hook kills leftovers should
 * the test runner die before `stop()`.
 */
export interface TestPrometheus {
  /** Base URL of its HTTP API, e.g. http://127.0.0.1:41234. */
  url: string;
  /** From spawn to /-/ready answering 200. */
  startupMs: number;
  /** Stops the server and removes its directory; safe to call twice. */
  stop(): Promise<void>;
}

export interface TestPrometheusOptions {
  /** `host:port` of each target to scrape (its /metrics). */
  targets: string[];
  /** Scrape interval, seconds (default 1); rules are evaluated as often. */
  scrapeIntervalSeconds?: number;
  /**
   * The scrape job to start from, as written in a prometheus.yml (e.g. deploy/prometheus's own):
   * its settings are kept but for the targets, the interval and, with `bearerToken`, the
   * credentials file, which the test's own replace. Default: a job named `test`.
   */
  job?: Record<string, unknown>;
  /** Sent as `Authorization: Bearer` on every scrape, from a credentials file in the server's directory. */
  bearerToken?: string;
  /** Absolute paths of rule files to load and evaluate. */
  ruleFiles?: string[];
}

const MISSING = 'prometheus is not installed (Debian package "prometheus")';

/** Why the Prometheus tests cannot run here, or null when they must (always null under CI=true). */
export function prometheusSkipReason(): string | null {
  return missingBinaryReason('prometheus', 'prometheus', 'Prometheus');
}

/** Starts Prometheus on a free port of 127.0.0.1 and resolves once /-/ready says so. */
export async function startTestPrometheus(options: TestPrometheusOptions): Promise<TestPrometheus> {
  const binary = findOnPath('prometheus');
  if (!binary) throw new Error(`${MISSING}; CI must install it (see .ci/run)`);
  let lastError: unknown;
  // The free port is released before Prometheus binds it; another process may take it first.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOn(binary, await freePort(), options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

async function startOn(
  binary: string,
  port: number,
  options: TestPrometheusOptions,
): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'bc-test-prometheus-'));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const config = join(dir, 'prometheus.yml');
  const job: Record<string, unknown> = {
    job_name: 'test',
    ...options.job,
    scrape_interval: interval,
    scrape_timeout: interval,
    static_configs: [{ targets: options.targets }],
  };
  if (options.bearerToken !== undefined) {
    const credentials = join(dir, 'scrape-token');
    writeFileSync(credentials, options.bearerToken, { mode: 0o600 });
    job.authorization = { type: 'Bearer', credentials_file: credentials };
  }
  // JSON is YAML: no YAML writer needed.
  writeFileSync(
    config,
    JSON.stringify({
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: [job],
    }),
  );
  const started = Date.now();
  const child = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=1h',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 200) output.shift();
  };
  // Drained for as long as it runs, so a chatty server never blocks on a full pipe.
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  try {
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    await Promise.race([spawnError, untilReady(url, child, output)]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, startupMs: Date.now() - started, stop };
}

async function untilReady(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`prometheus exited during start-up: ${output.join('')}`);
    }
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`prometheus was not ready within 30 s: ${output.join('')}`);
}
