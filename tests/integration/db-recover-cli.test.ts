import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../db/local-processes';
import { eventually } from '../helpers/deployments';
import {
  adminHeaders,
  PROCESS_KEK,
  ROOT,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process';

/**
 * Point-in-time recovery as an operator runs it: `npm start` with BACKUP_PITR on (the embedded
 * PostgreSQL archives into DATA_DIR/wal-spool, the platform ships to BACKUP_DIR/pitr and takes a
 * first base backup), annotations written over the API before and after a moment T, the server
 * stopped; `npm run db:recover -- --to T --data-dir NEW`; the platform started on NEW, which has
 * the annotation of before T and not the one after, and goes on archiving on its new timeline.
 */

const folders: string[] = [];
afterAll(async () => {
  await stopAllServers();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'bc-recover-'));
  folders.push(path);
  // The embedded PostgreSQL runs as the `postgres` user when we are root: it must reach its folder.
  await chmod(path, 0o755);
  return path;
}

/** A tRPC call over HTTP: GET for the queries used here (`.status`, `.list`), POST for mutations. */
async function trpc(server: ServerProcess, path: string, input: unknown, headers: Record<string, string>) {
  const query = path.endsWith('.status') || path.endsWith('.list');
  const url = `${server.url}/api/trpc/${path}`;
  const response = query
    ? await fetch(input === undefined ? url : `${url}?input=${encodeURIComponent(JSON.stringify(input))}`, {
        headers,
      })
    : await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(input),
      });
  const body = (await response.json()) as { result?: { data?: unknown } };
  expect(response.status, `${path}: ${JSON.stringify(body)}`).toBe(200);
  return body.result?.data;
}

async function sql<T extends pg.QueryResultRow>(dataDir: string, port: number, text: string): Promise<T[]> {
  const password = (await readFile(join(dataDir, 'postgres.password'), 'utf8')).trim();
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('npm run db:recover', () => {
  it('recovers a platform run with BACKUP_PITR to a moment between two writes, and the platform starts on it', async () => {
    const oldDir = await folder();
    const backupDir = join(oldDir, 'backups');
    const oldPort = await freePort();
    const env = {
      BACKUP_PITR: 'true',
      BACKUP_PITR_SHIP_INTERVAL_MS: '200',
      BACKUP_DIR: backupDir,
      BACKUP_PG_DUMP: 'off',
    };
    // `npm start` runs on Bun; the recovered platform below on Node: both runtimes archive.
    const first = await startServer({
      runtime: 'bun',
      env: { ...env, DATA_DIR: oldDir, EMBEDDED_PG_PORT: String(oldPort) },
      timeoutMs: 60_000,
    });
    const admin = await adminHeaders(first);
    const status = async () =>
      (await trpc(first, 'devops.backups.pointInTime.status', undefined, admin)) as {
        baseBackups: unknown[];
        baseBackupRunning: boolean;
        wal: { pendingFiles: number; newestFile: string | null };
      };
    await eventually(
      'the first base backup',
      async () => {
        const now = await status();
        return now.baseBackups.length === 1 && !now.baseBackupRunning;
      },
      60_000,
    );

    await trpc(first, 'system.annotations.create', { text: 'written before T' }, admin);
    const target = (await sql<{ now: Date }>(oldDir, oldPort, 'select clock_timestamp() as now'))[0]!.now;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await trpc(first, 'system.annotations.create', { text: 'written after T' }, admin);
    const switched = (
      await sql<{ file: string }>(oldDir, oldPort, 'select pg_walfile_name(pg_switch_wal()) as file')
    )[0]!.file;
    await eventually(
      'the switched segment in the store',
      async () => {
        const now = await status();
        return (now.wal.newestFile ?? '') >= switched && now.wal.pendingFiles === 0;
      },
      60_000,
    );
    expect((await first.stop()).code).toBe(0);

    // The recovery, as the operator types it (DATA_DIR names the old folder).
    const newDir = join(await folder(), 'platform');
    const recover = (extra: Record<string, string>) =>
      promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'scripts/db-recover.ts', '--to', target.toISOString(), '--data-dir', newDir],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: process.env.HOME ?? '',
            DATA_DIR: oldDir,
            ...env,
            ...extra,
          },
          timeout: 120_000,
        },
      );
    // Without the key-encryption key (this server had it in its environment, not in a file): refused.
    await expect(recover({})).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no key-encryption key: set AUTH_KEY_ENCRYPTION_KEY'),
    });
    const { stdout } = await recover({ AUTH_KEY_ENCRYPTION_KEY: PROCESS_KEK });
    expect(stdout).toMatch(/^base backup \S+ \(finished /m);
    expect(stdout).toMatch(/WAL files fetched/);
    expect(stdout).toMatch(/^stopped at /m);
    expect(stdout).toContain(`start the platform on it: DATA_DIR=${newDir} npm start`);

    const newPort = await freePort();
    const second = await startServer({
      runtime: 'node',
      env: { ...env, DATA_DIR: newDir, EMBEDDED_PG_PORT: String(newPort) },
      timeoutMs: 60_000,
    });
    const again = await adminHeaders(second);
    const listed = (await trpc(second, 'system.annotations.list', {}, again)) as {
      items: { text: string }[];
    };
    const texts = listed.items.map((a) => a.text);
    expect(texts).toContain('written before T');
    expect(texts).not.toContain('written after T');
    // The recovered server is on a new timeline, whose history file reaches the store.
    await eventually(
      'the new timeline in the store',
      async () =>
        (await readdir(join(backupDir, 'pitr', 'wal')).catch(() => [] as string[])).includes(
          '00000002.history',
        ),
      60_000,
    );
    // And takes a base backup of that timeline at once.
    const again2 = await eventually(
      'a base backup of timeline 2',
      async () => {
        const now = (await trpc(second, 'devops.backups.pointInTime.status', undefined, again)) as {
          baseBackups: { timeline: number }[];
        };
        return now.baseBackups[0]?.timeline === 2 && now;
      },
      60_000,
    );
    expect(again2.baseBackups.map((b) => b.timeline)).toEqual([2, 1]);
    expect((await second.stop()).code).toBe(0);
  }, 240_000);
});
