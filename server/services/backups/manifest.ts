import { z } from 'zod';
import { CHUNK_BYTES, ENCRYPTION_SCHEME } from './archive-crypto';
import { ArchiveFileMissingError, type ArchiveStore, MANIFEST_FILE, readSmallFile } from './archive-store';

/**
 * Bumped when the archive layout changes in a way an older reader would misread. 1: plain gzip
 * files; 2: encrypted files and an authenticated manifest (archive-crypto.ts). Both are read.
 */
export const MANIFEST_FORMAT = 2;
export { MANIFEST_FILE };

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
  /** Size of the stored file (compressed, then encrypted from format 2). */
  bytes: count,
  /** SHA-256 of the stored file. */
  sha256,
});
export type ManifestTable = z.infer<typeof manifestTable>;

/**
 * manifest.json: what the archive holds and how to check it. Data files are PostgreSQL's COPY
 * text format (one line per row: newlines inside values are escaped, so lines count rows),
 * gzip-compressed, one per table.
 */
export const manifestEncryption = z.object({
  scheme: z.literal(ENCRYPTION_SCHEME),
  chunkBytes: z.literal(CHUNK_BYTES),
  /** The backup's data key, sealed under the key-encryption key (base/sealed-secret), bound to the id. */
  sealedKey: z.string().min(1).max(1000),
});

export const manifestSchema = z.object({
  format: z.union([z.literal(1), z.literal(MANIFEST_FORMAT)]),
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
  /** From format 2: how the files are encrypted. */
  encryption: manifestEncryption.optional(),
  /** From format 2: HMAC-SHA256 of the rest of the manifest (canonicalManifest) under the data key. */
  mac: sha256.optional(),
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
  const encrypted = parsed.data.format === MANIFEST_FORMAT;
  if (encrypted !== (parsed.data.encryption !== undefined && parsed.data.mac !== undefined)) {
    throw new ManifestError(
      `invalid manifest: encryption and mac go with format ${MANIFEST_FORMAT}, and only with it`,
    );
  }
  const files = new Set(parsed.data.tables.map((t) => t.file));
  const names = new Set(parsed.data.tables.map((t) => t.name));
  if (files.size !== parsed.data.tables.length || names.size !== parsed.data.tables.length) {
    throw new ManifestError('invalid manifest: a table or a file is listed twice');
  }
  return parsed.data;
}

/** The manifest's text as its MAC covers it: every field but `mac`, in the schema's order. */
export function canonicalManifest(manifest: Manifest): string {
  const { mac: _mac, ...rest } = manifestSchema.parse(manifest);
  return JSON.stringify(rest);
}

/** Reads and checks an archive's manifest.json. */
export async function readManifest(store: ArchiveStore, location: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readSmallFile(store, location, MANIFEST_FILE);
  } catch (error) {
    if (error instanceof ArchiveFileMissingError) throw new ManifestError(`no ${MANIFEST_FILE}`);
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
