import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';

/*
 * WAL archiving, as the server sees it: PostgreSQL copies each finished WAL segment (and each
 * timeline history file) into a spool directory, and the platform ships what it finds there to
 * the backup store (services/backups/pitr/wal-shipper.ts). The command only copies on the same
 * disk, so it needs neither the key-encryption key nor the bucket's credentials, and it answers
 * within milliseconds whatever the storage service does; the spool is the queue between them.
 */

/** Names a segment or history file gets in the spool while being copied (the shipper skips them). */
export const SPOOL_PARTIAL_PREFIX = '.';

/**
 * `archive_command` for a spool directory: copy, flush to disk, rename. The rename makes the file
 * appear whole; the flush makes PostgreSQL's "archived" (after which it recycles the segment) true
 * across a power loss. A file already there (a retry after a crash) is replaced by the same bytes.
 */
export function spoolArchiveCommand(spoolDir: string): string {
  if (spoolDir.includes("'")) throw new Error(`the WAL spool directory ${spoolDir} contains a quote`);
  const part = `'${spoolDir}/${SPOOL_PARTIAL_PREFIX}%f.part'`;
  return `cp %p ${part} && sync ${part} && mv ${part} '${spoolDir}/%f'`;
}

/** The server settings that archive WAL into `spoolDir`; `archive_mode` takes a server restart. */
export function walArchiveSettings(
  spoolDir: string,
  { archiveTimeoutSeconds }: { archiveTimeoutSeconds: number },
): Record<string, string> {
  return {
    wal_level: 'replica',
    archive_mode: 'on',
    archive_command: spoolArchiveCommand(spoolDir),
    // A quiet server fills a 16 MB segment slowly; this bounds what a lost machine loses.
    archive_timeout: String(archiveTimeoutSeconds),
  };
}

/**
 * Makes the spool directory, owned by the `postgres` user when we are root (the embedded server
 * runs as that user then, and must write there; the platform, root, reads and deletes).
 */
export async function prepareSpool(spoolDir: string): Promise<void> {
  await mkdir(spoolDir, { recursive: true, mode: 0o700 });
  await handToPostgres(spoolDir);
}

/**
 * Gives folders (and all below them) to the `postgres` system user when we are root: the embedded
 * server runs as that user then. Nothing to do otherwise (it runs as us).
 */
export async function handToPostgres(...paths: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  await promisify(execFile)('chown', ['-R', 'postgres:postgres', ...paths]);
}
