import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDirLockedError, startEmbeddedPostgres } from '../../db/embedded-postgres';

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bc-embedded-'));
  await chmod(root, 0o755);
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  it('keeps its data across a stop and a start, and refuses a second server on the same directory', async () => {
    const dataDir = join(root, 'data');
    const first = await startEmbeddedPostgres({ dataDir });
    try {
      await query(first.url, 'create table kept (v text); insert into kept values ($$still here$$)');
      await expect(startEmbeddedPostgres({ dataDir })).rejects.toBeInstanceOf(DataDirLockedError);
      const version = await query(first.url, 'show server_version_num');
      expect(Number(version[0].server_version_num)).toBeGreaterThanOrEqual(140000);
      const libs = await query(first.url, 'show shared_preload_libraries');
      expect(libs[0].shared_preload_libraries).toContain('pg_stat_statements');
    } finally {
      await first.stop();
    }
    const second = await startEmbeddedPostgres({ dataDir });
    try {
      expect(await query(second.url, 'select v from kept')).toEqual([{ v: 'still here' }]);
    } finally {
      await second.stop();
    }
  });
});
