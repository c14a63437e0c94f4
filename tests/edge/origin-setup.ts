import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import { PROCESS_ADMIN, startServer } from '../helpers/server-process';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The origin server (`bun server/main.ts`), which issues tokens and publishes its JWKS. */
    originUrl: string;
    /** The origin's database as the edge reaches it: a role that may only read. */
    edgeDatabaseUrl: string;
    /** An access token the origin issued to its first admin at sign-in. */
    accessToken: string;
    /** The admin the token was issued to. */
    admin: { userId: string; organizationId: string; email: string };
    /** An annotation written through the origin, for the edge to read back. */
    annotation: { id: number; text: string; tags: string[] };
  }
}

const ADMIN = PROCESS_ADMIN;

/** A role that may read every table and write none (createReadOnlyRole): what the edge is given. */
const EDGE_ROLE = { name: 'bc_edge_reader', password: 'edge-reader-test-password' };

/**
 * The origin the edge depends on, started for real before the Workers pool starts: an embedded
 * PostgreSQL, the platform as operators run it (`bun server/main.ts`, a process of its own), a
 * sign-in for an access token, and an annotation written through tRPC.
 */
export default async function setup(project: TestProject) {
  const root = await mkdtemp(join(tmpdir(), 'bc-edge-origin-'));
  // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach its folder.
  await chmod(root, 0o755);
  const postgres = await startEmbeddedPostgres({ dataDir: join(root, 'data') });
  const origin = await startServer({
    runtime: 'bun',
    env: {
      DATABASE_URL: postgres.url,
      DATA_DIR: root,
      SHUTDOWN_DRAIN_DELAY_MS: '0',
    },
    timeoutMs: 60_000,
  });
  const originUrl = origin.url;

  const signedIn = await trpc<{ accessToken: string; user: { id: string; organizationId: string } }>(
    originUrl,
    'auth.login',
    ADMIN,
  );
  const annotation = await trpc<{ id: number; text: string; tags: string[] }>(
    originUrl,
    'system.annotations.create',
    { text: 'written at the origin, read at the edge', tags: ['edge'] },
    signedIn.accessToken,
  );
  await createReadOnlyRole(postgres.url);
  const edgeDatabaseUrl = new URL(postgres.url);
  edgeDatabaseUrl.username = EDGE_ROLE.name;
  edgeDatabaseUrl.password = EDGE_ROLE.password;

  console.log(`origin (Bun, pid ${origin.pid}) at ${originUrl}; PostgreSQL on port ${postgres.port}`);
  project.provide('originUrl', originUrl);
  project.provide('edgeDatabaseUrl', edgeDatabaseUrl.toString());
  project.provide('accessToken', signedIn.accessToken);
  project.provide('admin', {
    userId: signedIn.user.id,
    organizationId: signedIn.user.organizationId,
    email: ADMIN.email,
  });
  project.provide('annotation', { id: annotation.id, text: annotation.text, tags: annotation.tags });

  return async () => {
    await origin.stop('SIGTERM', 15_000);
    await postgres.stop();
    await rm(root, { recursive: true, force: true });
  };
}

/** Calls a tRPC mutation over HTTP, as any non-browser client would. */
async function trpc<T>(originUrl: string, path: string, input: unknown, token?: string): Promise<T> {
  const response = await fetch(`${originUrl}/api/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as { result?: { data?: T }; error?: unknown };
  if (!response.ok || !body.result?.data) {
    throw new Error(`${path} failed at the origin: ${response.status} ${JSON.stringify(body.error)}`);
  }
  return body.result.data;
}

async function createReadOnlyRole(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // Whole literals: a role's name and password cannot be bound as parameters.
    await client.query("create role bc_edge_reader login password 'edge-reader-test-password'");
    await client.query('grant select on all tables in schema public to bc_edge_reader');
  } finally {
    await client.end();
  }
}
