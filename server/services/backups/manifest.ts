import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/** Bumped when the archive layout changes in a way an older reader would misread. */
export const MANIFEST_FORMAT = 1;
export const MANIFEST_FILE = 'manifest.json';

/**
 * A table's data file: a number keeping the load order visible in a listing, and the table's name
 * made safe for any file system. Checked on read, so a tampered manifest cannot point outside the
 * archive's directory.
 */
const DATA_FILE = /^\d{4}-[A-Za-z0-9_]{1,63}\.copy\.gz$/;

export function dataFileName(position: number, table: string): string {
  const safe = table.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 63) || '_';
  return `${String(position).padStart(4, '0')}-${safe}.copy.gz`;
}

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256');
const count = z.number().int().min(0);

export const manifestTable = z.object({
  name: z.string().min(1).max(63),
  file: z.string().regex(DATA_FILE, 'must be a data file of the archive'),
  /** The COPY column list, in the order of the data. */
  columns: z.array(z.string().min(1).max(63)).min(1),
  primaryKey: z.array(z.string().min(1).max(63)),
  /** Tables its foreign keys point at: they are loaded first. */
  references: z.array(z.string().min(1).max(63)),
  rows: count,
  /** Size of the compressed file. */
  bytes: count,
  /** SHA-256 of the compressed file. */
  sha256,
});
export type ManifestTable = z.infer<typeof manifestTable>;

/**
 * manifest.json: what the archive holds and how to check it. Data files are PostgreSQL's COPY
 * text format (one line per row: newlines inside values are escaped, so lines count rows),
 * gzip-compressed, one per table.
 */
export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  id: z.string().min(1).max(100),
  createdAt: z.iso.datetime({ offset: true }),
  /** The latest migration applied to the source: restore builds the schema by migrating to it. */
  schemaVersion: z.string().min(1).max(200),
  server: z.object({ version: z.string().max(200), versionNum: count }),
  method: z.enum(['copy', 'pg_dump']),
  copyFormat: z.literal('text'),
  compression: z.literal('gzip'),
  tables: z.array(manifestTable),
  durationMs: count,
  /** Sum of the data files' sizes. */
  totalBytes: count,
  totalRows: count,
});
export type Manifest = z.infer<typeof manifestSchema>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Parses a manifest, refusing one that is malformed or names a file twice. */
export function parseManifest(value: unknown): Manifest {
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ManifestError(
      `invalid manifest: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
    );
  }
  const files = new Set(parsed.data.tables.map((t) => t.file));
  const names = new Set(parsed.data.tables.map((t) => t.name));
  if (files.size !== parsed.data.tables.length || names.size !== parsed.data.tables.length) {
    throw new ManifestError('invalid manifest: a table or a file is listed twice');
  }
  return parsed.data;
}

/** Reads and checks `<directory>/manifest.json`. */
export async function readManifest(directory: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(join(directory, MANIFEST_FILE), 'utf8');
  } catch (error) {
    throw new ManifestError(`no readable ${MANIFEST_FILE}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ManifestError(`${MANIFEST_FILE} is not valid JSON`);
  }
  return parseManifest(json);
}
