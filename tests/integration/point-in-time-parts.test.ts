import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/base/logger';
import { readWhole } from '../../server/services/backups/archive-store';
import { packDataDirectory, unpackDataDirectory } from '../../server/services/backups/pitr/data-directory';
import { LocalObjectStore, ObjectMissingError } from '../../server/services/backups/pitr/object-store';
import { openObject, sealObject } from '../../server/services/backups/pitr/sealed-object';
import { WalShipper } from '../../server/services/backups/pitr/wal-shipper';

/**
 * The parts of point-in-time recovery below PostgreSQL: the local store, sealed objects, the data
 * directory stream and the WAL shipper (against a store that fails, then comes back). The whole
 * path over a real server and bucket is point-in-time-recovery.test.ts.
 */

const folders: string[] = [];
afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});
async function folder(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'bc-pitr-parts-'));
  folders.push(path);
  return path;
}
const kek = randomBytes(32);
const logger = createLogger({ level: 'silent' });

describe('local object store', () => {
  it('stores, lists in key order, reads back and deletes; refuses keys leaving its folder', async () => {
    const store = new LocalObjectStore(await folder());
    await store.put('wal/000000010000000000000002', Readable.from([Buffer.from('two')]));
    await store.put('wal/000000010000000000000001', Readable.from([Buffer.from('one')]));
    await store.put('base/x/data', Readable.from([Buffer.from('data')]));
    expect((await store.list('wal/')).map((o) => [o.key, o.size])).toEqual([
      ['wal/000000010000000000000001', 3],
      ['wal/000000010000000000000002', 3],
    ]);
    expect((await readWhole(await store.get('wal/000000010000000000000002'), 'segment')).toString()).toBe(
      'two',
    );
    await store.delete('wal/000000010000000000000002');
    await expect(store.get('wal/000000010000000000000002')).rejects.toThrow(ObjectMissingError);
    for (const key of ['../escape', 'wal/../../escape', '/abs', 'wal//x', 'wal/.', '']) {
      await expect(store.put(key, Readable.from([Buffer.from('x')])), key).rejects.toThrow(
        /invalid object key/,
      );
    }
  });
});

describe('sealed objects', () => {
  const seal = async (bytes: Buffer, name: string) =>
    readWhole(sealObject(Readable.from([bytes]), kek, name), name);
  const open = async (stored: Buffer, name: string, key = kek) =>
    readWhole(await openObject(Readable.from([stored]), key, name), name);

  it('round-trips 3 MiB (several chunks), compressed, without the plain bytes in what is stored', async () => {
    const plain = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(2 * 1024 * 1024, 'wal ')]);
    const stored = await seal(plain, 'wal/000000010000000000000001');
    expect(stored.length).toBeLessThan(plain.length / 2);
    expect(stored.includes(plain.subarray(0, 64))).toBe(false);
    expect((await open(stored, 'wal/000000010000000000000001')).equals(plain)).toBe(true);
  });

  it('refuses another name (a segment standing in for another), another key, a flipped bit, a cut', async () => {
    const stored = await seal(randomBytes(200_000), 'wal/000000010000000000000001');
    await expect(open(stored, 'wal/000000010000000000000002')).rejects.toThrow(/wrong_key/);
    await expect(open(stored, 'wal/000000010000000000000001', randomBytes(32))).rejects.toThrow(/wrong_key/);
    const flipped = Buffer.from(stored);
    flipped[flipped.length - 100]! ^= 1;
    await expect(open(flipped, 'wal/000000010000000000000001')).rejects.toThrow(/tampered/);
    await expect(
      open(stored.subarray(0, stored.length - 70_000), 'wal/000000010000000000000001'),
    ).rejects.toThrow(/truncated|tampered/);
    await expect(open(Buffer.from('not an object at all'), 'x')).rejects.toThrow(/tampered/);
  });
});

describe('data directory stream', () => {
  it('copies files and folders, leaves out WAL, the pid file and temporary files, and keeps the control file', async () => {
    const source = await folder();
    const files: Record<string, Buffer> = {
      PG_VERSION: Buffer.from('18\n'),
      'base/5/1259': randomBytes(3 * 1024 * 1024 + 17),
      'base/5/1259_fsm': randomBytes(24_576),
      'global/pg_control': randomBytes(8192),
      'postgresql.auto.conf': Buffer.from('# auto\n'),
      'pg_wal/000000010000000000000001': randomBytes(1024),
      'pg_wal/archive_status/000000010000000000000001.ready': Buffer.alloc(0),
      'pg_stat_tmp/global.stat': randomBytes(10),
      'postmaster.pid': Buffer.from('123\n'),
      'base/pgsql_tmp/pgsql_tmp1.0': randomBytes(10),
      'base/5/pg_internal.init': randomBytes(10),
    };
    for (const [path, bytes] of Object.entries(files)) {
      await mkdir(join(source, path, '..'), { recursive: true });
      await writeFile(join(source, path), bytes);
    }
    await mkdir(join(source, 'pg_tblspc'));
    const target = join(await folder(), 'restored');
    const result = await unpackDataDirectory(Readable.from(packDataDirectory(source)), target);
    expect(result.files).toBe(5);
    for (const path of [
      'PG_VERSION',
      'base/5/1259',
      'base/5/1259_fsm',
      'global/pg_control',
      'postgresql.auto.conf',
    ]) {
      expect((await readFile(join(target, path))).equals(files[path]!), path).toBe(true);
    }
    expect(await readdir(join(target, 'pg_wal'))).toEqual([]);
    expect(await readdir(join(target, 'pg_stat_tmp'))).toEqual([]);
    expect(await readdir(join(target, 'pg_tblspc'))).toEqual([]);
    expect((await readdir(target)).sort()).toEqual(
      ['PG_VERSION', 'base', 'global', 'pg_stat_tmp', 'pg_tblspc', 'pg_wal', 'postgresql.auto.conf'].sort(),
    );
    expect(await readdir(join(target, 'base'))).toEqual(['5']);
  });

  it('refuses a stream without its end mark and a path leaving the target', async () => {
    const source = await folder();
    await writeFile(join(source, 'PG_VERSION'), '18\n');
    const parts: Buffer[] = [];
    for await (const part of packDataDirectory(source)) parts.push(part);
    const whole = Buffer.concat(parts);
    await expect(
      unpackDataDirectory(Readable.from([whole.subarray(0, whole.length - 1)]), join(await folder(), 't')),
    ).rejects.toThrow(/ends before its end mark/);
    const name = Buffer.from('../evil');
    const evil = Buffer.concat([Buffer.from('D'), Buffer.from([0, name.length]), name, Buffer.from('E')]);
    await expect(unpackDataDirectory(Readable.from([evil]), join(await folder(), 't'))).rejects.toThrow(
      /refused path/,
    );
  });
});

describe('WAL shipper', () => {
  it('ships WAL files oldest first and empties the spool; a failing store keeps them until it is back', async () => {
    const spool = await folder();
    const storeRoot = join(await folder(), 'store');
    // A file where the store's folder should be: every write fails (ENOTDIR / EEXIST), for real.
    await writeFile(storeRoot, 'in the way');
    const store = new LocalObjectStore(storeRoot);
    const shipper = new WalShipper({ spoolDir: spool, store, kek, logger, intervalMs: 60_000 });
    const segments = ['000000010000000000000003', '000000010000000000000001', '00000002.history'];
    for (const name of segments) await writeFile(join(spool, name), randomBytes(4096));
    await writeFile(join(spool, '.000000010000000000000004.part'), 'being copied');
    await writeFile(join(spool, 'notes.txt'), 'not WAL');

    await shipper.shipNow();
    let figures = shipper.current();
    expect(figures.shipped).toBe(0);
    expect(figures.failures).toBe(1);
    expect(figures.pending).toBe(3);
    expect(figures.lastError?.message).toBeTruthy();
    expect((await readdir(spool)).sort()).toEqual(
      ['.000000010000000000000004.part', 'notes.txt', ...segments].sort(),
    );

    await rm(storeRoot);
    await shipper.shipNow();
    figures = shipper.current();
    expect(figures.shipped).toBe(3);
    expect(figures.pending).toBe(0);
    expect(figures.oldestPendingSeconds).toBe(0);
    expect(figures.lastShipped?.file).toBe('00000002.history');
    expect((await store.list('wal/')).map((o) => o.key)).toEqual([
      'wal/000000010000000000000001',
      'wal/000000010000000000000003',
      'wal/00000002.history',
    ]);
    expect((await readdir(spool)).sort()).toEqual(['.000000010000000000000004.part', 'notes.txt']);
    const back = await readWhole(
      await openObject(await store.get('wal/00000002.history'), kek, 'wal/00000002.history'),
      'history',
    );
    expect(back.length).toBe(4096);
    await shipper.stop();
  });
});
