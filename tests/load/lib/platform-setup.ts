import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../../db/local-processes';
import { PROCESS_KEK, ROOT, serverCommand } from '../../helpers/server-process';
import type { Processes, Started } from './processes';
import { waitForHttp } from './processes';
import { type RunIdentity, writeSeq } from './traffic';

/** The first admin of a platform the load suite starts itself. */
export const LOAD_ADMIN = { email: 'load@platform.test', password: 'load-suite-admin-password-0123' };

/** What the run's API key may do: exactly what the mix calls, nothing more. */
export const LOAD_KEY_SCOPES = ['system:read', 'system:write', 'auth:read', 'devops:read'] as const;

export interface StartedPlatform {
  origin: string;
  pid: number;
  logFile: string;
  started: Started;
}

/**
 * The platform as production runs it (NODE_ENV=production, default log level with its access
 * log, default rate limits and password cost) with an embedded PostgreSQL in `dataDir`. Only
 * PATH, HOME and TMPDIR are inherited: a DATABASE_URL in the caller's shell must not redirect it.
 */
export async function startPlatform(
  processes: Processes,
  { dataDir, runtime }: { dataDir: string; runtime: 'bun' | 'node' },
): Promise<StartedPlatform> {
  const port = await freePort();
  const logFile = join(dataDir, 'platform.log');
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR']) if (process.env[key]) env[key] = process.env[key];
  const [command, args] = serverCommand(runtime);
  const fd = openSync(logFile, 'a');
  let started: Started;
  try {
    ({ started } = processes.start({
      name: 'platform',
      command,
      args,
      cwd: ROOT,
      output: fd,
      env: {
        ...env,
        NODE_ENV: 'production',
        HOST: '127.0.0.1',
        PORT: String(port),
        DATA_DIR: dataDir,
        ADMIN_EMAIL: LOAD_ADMIN.email,
        ADMIN_PASSWORD: LOAD_ADMIN.password,
        AUTH_KEY_ENCRYPTION_KEY: PROCESS_KEK,
        // Readiness would otherwise answer 503 for 5 s before the suite's server stops.
        SHUTDOWN_DRAIN_DELAY_MS: '0',
      },
    }));
  } finally {
    closeSync(fd);
  }
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/api/health/ready`, started, { timeoutMs: 60_000 });
  return { origin, pid: started.pid, logFile, started };
}

/** A tRPC call over plain HTTP; throws with the status and body unless it succeeded. */
export async function trpc<T>(
  origin: string,
  procedure: string,
  {
    input,
    headers = {},
    method = 'GET',
  }: { input?: unknown; headers?: Record<string, string>; method?: 'GET' | 'POST' },
): Promise<T> {
  const search =
    method === 'GET' && input !== undefined ? `?input=${encodeURIComponent(JSON.stringify(input))}` : '';
  const response = await fetch(`${origin}/api/trpc/${procedure}${search}`, {
    method,
    headers: { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(method === 'POST' ? { body: JSON.stringify(input ?? {}) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let body: { result?: { data?: T } } | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    // Reported below with the raw text.
  }
  if (!response.ok || body?.result === undefined)
    throw new Error(`${procedure} answered ${response.status}: ${text.slice(0, 300)}`);
  return body.result.data as T;
}

export interface RunKey {
  key: string;
  /** Revokes the key, when the suite created it (a key handed in by LOAD_API_KEY is left alone). */
  release(): Promise<void>;
}

/**
 * The API key the run sends: LOAD_API_KEY as given, or a key created for the run through
 * auth.login and auth.apiKeys.create (as a partner's administrator would) and revoked afterwards.
 */
export async function prepareApiKey(
  origin: string,
  credentials: { apiKey?: string; email?: string; password?: string },
  tag: string,
): Promise<RunKey> {
  if (credentials.apiKey) return { key: credentials.apiKey, release: async () => undefined };
  if (!credentials.email || !credentials.password)
    throw new Error('no credentials: set LOAD_API_KEY, or LOAD_ADMIN_EMAIL and LOAD_ADMIN_PASSWORD');
  const { accessToken } = await trpc<{ accessToken: string }>(origin, 'auth.login', {
    method: 'POST',
    input: { email: credentials.email, password: credentials.password },
  });
  const session = { authorization: `Bearer ${accessToken}` };
  const created = await trpc<{ key: string; apiKey: { id: string } }>(origin, 'auth.apiKeys.create', {
    method: 'POST',
    headers: session,
    input: { name: tag, scopes: [...LOAD_KEY_SCOPES] },
  });
  return {
    key: created.key,
    release: async () => {
      await trpc(origin, 'auth.apiKeys.revoke', {
        method: 'POST',
        headers: session,
        input: { id: created.apiKey.id },
      });
    },
  };
}

/**
 * The write numbers of this run's annotations as the platform lists them (every page of
 * system.annotations.list filtered by the run's tag). A number listed twice appears twice.
 *
 * Pages come as `{ items, nextCursor }` (the list shape of shared/pagination.ts, `cursor` asks
 * for the next page); a platform from before that shape answers a bare array paged with `before`
 * (the last id), which is still read, so the suite can load a server of either version.
 */
export async function storedWrites(origin: string, apiKey: string, run: RunIdentity): Promise<number[]> {
  type Row = { id: number; text: string };
  const seqs: number[] = [];
  let next: { cursor?: string; before?: number } = {};
  for (;;) {
    const page = await trpc<Row[] | { items: Row[]; nextCursor: string | null }>(
      origin,
      'system.annotations.list',
      { headers: { authorization: `Bearer ${apiKey}` }, input: { tag: run.tag, limit: 500, ...next } },
    );
    const rows = Array.isArray(page) ? page : page.items;
    for (const row of rows) {
      const seq = writeSeq(run, row.text);
      if (seq !== undefined) seqs.push(seq);
    }
    if (Array.isArray(page)) {
      if (page.length < 500) return seqs;
      next = { before: page.at(-1)!.id };
    } else {
      if (page.nextCursor === null) return seqs;
      next = { cursor: page.nextCursor };
    }
  }
}
