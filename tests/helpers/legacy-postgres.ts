import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../../db/local-processes';
import type { PgDumpTool } from '../../server/services/backups/pg-dump';

const run = promisify(execFile);

/** A PostgreSQL server of pg_dump's own major version, so the pg_dump backup method really runs. */
export interface LegacyServer {
  url: string;
  stop(): Promise<void>;
}

/**
 * initdb + pg_ctl of `tool`'s major version (Debian package postgresql-<major>: the binaries under
 * /usr/lib/postgresql/<major>/bin), as the postgres user when we are root: the pg_dump backup
 * method's source in the backup tests.
 */
export async function startServerMatching(tool: PgDumpTool): Promise<LegacyServer> {
  const bin = `/usr/lib/postgresql/${tool.major}/bin`;
  if (!existsSync(join(bin, 'postgres'))) {
    throw new Error(
      `no PostgreSQL ${tool.major} server in ${bin}: install the Debian package postgresql-${tool.major}`,
    );
  }
  const root = await mkdtemp(join(tmpdir(), 'bc-pg-dump-source-'));
  const asRoot = process.getuid?.() === 0;
  const as = (command: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args);
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    await chmod(root, 0o755);
    await chown(root, Number(stdout.trim()), Number(group.trim()));
  }
  const data = join(root, 'data');
  const port = await freePort();
  await as(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  await as(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-w',
    '-l',
    join(root, 'log'),
    '-o',
    `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c fsync=off`,
    'start',
  ]);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}
