import { z } from 'zod';
import { type Page, pageSchema } from './pagination';

/** `devops.backups.*`: inputs (zod) and what the procedures answer. */

const id = z.uuid({ message: 'must be an id (a UUID)' });
const limit = z.number().int().min(1).max(100).default(50);
// PostgreSQL text cannot hold NUL; refused here with a 400 rather than by the database with a 500.
const noNul = (value: string) => !value.includes('\u0000');

export const backupCreateInput = z
  .object({
    /** Answer once the archive is written (or failed) instead of as soon as it has started. */
    wait: z.boolean().default(false),
  })
  .default({ wait: false });
export type BackupCreateInput = z.infer<typeof backupCreateInput>;

export const backupListInput = z
  .object({
    limit,
    /** The last id of the previous page. */
    cursor: id.optional(),
  })
  .default({ limit: 50 });
export type BackupListInput = z.infer<typeof backupListInput>;

export const backupIdInput = z.object({ id });

/**
 * A database the platform may restore into besides its own: one entry of BACKUP_RESTORE_TARGETS,
 * or where a restore's `targetDatabaseUrl` points. Host in lower case, without IPv6 brackets or a
 * trailing dot; port 5432 when not given.
 */
export interface RestoreTargetAddress {
  host: string;
  port: number;
  database: string;
}

const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const IPV6 = /^[0-9a-f:.]{2,45}$/;
// Database names are identifiers (at most 63 bytes); ',', '/', '?', '#', spaces and control characters
// would make entries ambiguous or unprintable.
const DATABASE_NAME = /^[^\s/,?#\p{Cc}]{1,63}$/u;
const ENTRY = /^(\[[^\]]*\]|[^:/[\]]+)(?::(\d{1,5}))?\/(.+)$/;

/**
 * `host` as allow-lists compare it, or null when it is neither a host name, an IPv4 address nor a
 * bracketed IPv6 address. Matching is by spelling: a target is allowed only when it names its
 * server exactly as the operator did (`localhost` does not stand for `127.0.0.1`).
 */
export function normaliseTargetHost(host: string): string | null {
  const lower = host.toLowerCase();
  if (lower.startsWith('[')) {
    const inner = lower.slice(1, -1);
    return lower.endsWith(']') && IPV6.test(inner) && inner.includes(':') ? inner : null;
  }
  const name = lower.replace(/\.$/, '');
  return HOST_NAME.test(name) ? name : null;
}

/** One `host[:port]/database` entry; null when it is not one. */
export function parseRestoreTargetEntry(text: string): RestoreTargetAddress | null {
  const match = ENTRY.exec(text.trim());
  if (!match) return null;
  const host = normaliseTargetHost(match[1] as string);
  const port = match[2] === undefined ? 5432 : Number(match[2]);
  const database = match[3] as string;
  if (host === null || port < 1 || port > 65_535 || !DATABASE_NAME.test(database)) return null;
  return { host, port, database };
}

/** Whether `target` is one of `allowed` (host, port and database all equal). */
export function restoreTargetAllowed(
  target: RestoreTargetAddress,
  allowed: readonly RestoreTargetAddress[],
): boolean {
  return allowed.some(
    (entry) => entry.host === target.host && entry.port === target.port && entry.database === target.database,
  );
}

/**
 * BACKUP_RESTORE_TARGETS: comma-separated `host[:port]/database` entries (`[::1]:5433/restore_check`,
 * `db.internal/staging`), never credentials: those come with each restore, in its URL.
 */
export const restoreTargetList = z.string().transform((value, ctx) => {
  const entries: RestoreTargetAddress[] = [];
  for (const [index, raw] of value.split(',').entries()) {
    if (raw.trim() === '') continue;
    const entry = parseRestoreTargetEntry(raw);
    if (!entry) {
      // The entry itself is not echoed: one written as a URL may hold a password.
      ctx.addIssue({
        code: 'custom',
        message: `must be comma-separated host[:port]/database entries, without user, password or parameters (entry ${index + 1} is not one)`,
      });
      return z.NEVER;
    }
    entries.push(entry);
  }
  return entries;
});

export const backupRestoreInput = z.object({
  id,
  /**
   * Another database to restore into; absent: the platform's own database, which the restore
   * replaces while it runs (put the platform in maintenance first).
   */
  targetDatabaseUrl: z
    .url({ protocol: /^postgres(ql)?$/, message: 'must be a postgres:// or postgresql:// URL' })
    .max(2000)
    .optional(),
  /** Needed to replace a target that holds data (always, for the platform's own database). */
  confirm: z.boolean(),
});
export type BackupRestoreInput = z.infer<typeof backupRestoreInput>;

const cron = z.string().trim().min(1).max(200).refine(noNul, 'must not contain NUL (U+0000) characters');
const retentionCount = z.number().int().min(1).max(10_000).nullable();
const retentionDays = z.number().int().min(1).max(36_500).nullable();

export const backupScheduleCreateInput = z.object({
  /** Five cron fields (minute hour day-of-month month day-of-week) in UTC, or @daily, @hourly, ... */
  cron,
  /** Keep the newest N successful backups of the schedule. */
  retentionCount: retentionCount.default(null),
  /** Keep successful backups of the schedule younger than D days (with a count too: kept by either). */
  retentionDays: retentionDays.default(null),
  enabled: z.boolean().default(true),
});
export type BackupScheduleCreateInput = z.infer<typeof backupScheduleCreateInput>;

export const backupScheduleUpdateInput = z.object({
  id,
  cron: cron.optional(),
  retentionCount: retentionCount.optional(),
  retentionDays: retentionDays.optional(),
  enabled: z.boolean().optional(),
});
export type BackupScheduleUpdateInput = z.infer<typeof backupScheduleUpdateInput>;

export const backupScheduleIdInput = z.object({ id });

export type BackupStatus = 'running' | 'succeeded' | 'failed';

export interface BackupTableSummary {
  name: string;
  rows: number;
  /** Size of its data file as stored (compressed, then encrypted). */
  bytes: number;
  sha256: string;
}

export interface Backup {
  id: string;
  status: BackupStatus;
  /** How the data was exported: PostgreSQL's COPY, or pg_dump when it can dump the server. */
  method: 'copy' | 'pg_dump' | null;
  scheduleId: string | null;
  /** Where the archive is: its directory on the server, or `s3://bucket/prefix<id>` in object storage. */
  path: string;
  schemaVersion: string | null;
  serverVersion: string | null;
  sizeBytes: number | null;
  durationMs: number | null;
  rows: number | null;
  tables: BackupTableSummary[];
  error: string | null;
  createdBy: string | null;
  createdAt: string;
  finishedAt: string | null;
  verifiedAt: string | null;
}

export type BackupPage = Page<Backup>;

export interface BackupFileCheck {
  table: string;
  file: string;
  ok: boolean;
  expected: { sha256: string; bytes: number; rows: number };
  /** What was found; absent fields could not be measured (a missing file). */
  actual: { sha256?: string; bytes?: number; rows?: number };
  /** Why the file fails; empty when it passes. */
  problems: string[];
}

export interface BackupVerification {
  id: string;
  ok: boolean;
  /** Problems with the archive as a whole (a missing or altered manifest). */
  problems: string[];
  files: BackupFileCheck[];
  durationMs: number;
}

export interface BackupRestoreResult {
  id: string;
  /** Where it went, without credentials. */
  target: { host: string; database: string; platform: boolean };
  schemaVersion: string;
  migrated: string[];
  replacedData: boolean;
  tables: { name: string; rows: number }[];
  durationMs: number;
}

export interface BackupSchedule {
  id: string;
  cron: string;
  retentionCount: number | null;
  retentionDays: number | null;
  enabled: boolean;
  lastRunAt: string | null;
  nextRunAt: string;
  createdAt: string;
  updatedAt: string;
}

// --- Output schemas (the REST reference; exactly the interfaces above) -----------------------------

const dateTime = z.string().describe('ISO 8601 date-time');

export const backupView = z.object({
  id: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  /** How the data was exported: PostgreSQL's COPY, or pg_dump when it can dump the server. */
  method: z.enum(['copy', 'pg_dump']).nullable(),
  scheduleId: z.string().nullable(),
  /** Where the archive is: its directory on the server, or `s3://bucket/prefix<id>` in object storage. */
  path: z.string(),
  schemaVersion: z.string().nullable(),
  serverVersion: z.string().nullable(),
  sizeBytes: z.number().int().nullable(),
  durationMs: z.number().int().nullable(),
  rows: z.number().int().nullable(),
  tables: z.array(
    z.object({
      name: z.string(),
      rows: z.number().int(),
      /** Size of its data file as stored (compressed, then encrypted). */
      bytes: z.number().int(),
      sha256: z.string(),
    }),
  ),
  error: z.string().nullable(),
  createdBy: z.string().nullable(),
  createdAt: dateTime,
  finishedAt: dateTime.nullable(),
  verifiedAt: dateTime.nullable(),
});

export const backupPage = pageSchema(backupView);

export const backupVerification = z.object({
  id: z.string(),
  ok: z.boolean(),
  /** Problems with the archive as a whole (a missing or altered manifest). */
  problems: z.array(z.string()),
  files: z.array(
    z.object({
      table: z.string(),
      file: z.string(),
      ok: z.boolean(),
      expected: z.object({ sha256: z.string(), bytes: z.number().int(), rows: z.number().int() }),
      /** What was found; absent fields could not be measured (a missing file). */
      actual: z.object({
        sha256: z.string().optional(),
        bytes: z.number().int().optional(),
        rows: z.number().int().optional(),
      }),
      /** Why the file fails; empty when it passes. */
      problems: z.array(z.string()),
    }),
  ),
  durationMs: z.number().int(),
});

export const backupRestoreResult = z.object({
  id: z.string(),
  /** Where it went, without credentials. */
  target: z.object({ host: z.string(), database: z.string(), platform: z.boolean() }),
  schemaVersion: z.string(),
  /** Migrations applied to the target to reach the archive's schema. */
  migrated: z.array(z.string()),
  /** Whether the target had rows that the archive's replaced. */
  replacedData: z.boolean(),
  tables: z.array(z.object({ name: z.string(), rows: z.number().int() })),
  durationMs: z.number().int(),
});

export const backupScheduleView = z.object({
  id: z.string(),
  cron: z.string(),
  retentionCount: z.number().int().nullable(),
  retentionDays: z.number().int().nullable(),
  enabled: z.boolean(),
  lastRunAt: dateTime.nullable(),
  nextRunAt: dateTime,
  createdAt: dateTime,
  updatedAt: dateTime,
});

/** What a delete answers: the id of what is gone. */
export const deletedId = z.object({ id: z.string() });
