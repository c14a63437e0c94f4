import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose user may create databases; each test file makes its own. */
    adminDatabaseUrl: string;
  }
}

/**
 * One real PostgreSQL for the whole run: DATABASE_URL when set, else an embedded server in a
 * throwaway directory, removed afterwards.
 */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('adminDatabaseUrl', process.env.DATABASE_URL);
    return;
  }
  const root = await mkdtemp(join(tmpdir(), 'bc-test-pg-'));
  // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach its folder.
  await chmod(root, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: join(root, 'data') });
  project.provide('adminDatabaseUrl', server.url);
  return async () => {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  };
}
