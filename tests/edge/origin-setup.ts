import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../db/embedded-postgres';
import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { readBuildInfo } from '../../server/runtime/build-info';
import { buildDependencies } from '../../server/runtime/dependencies';
import { createLogger } from '../../server/runtime/logger';
import { serve } from '../../server/runtime/serve';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The origin server (Node, in this process), which issues tokens and publishes its JWKS. */
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

const ADMIN = { email: 'edge-admin@platform.test', password: 'edge-admin-password-0123' };

/** A role that may read every table and write none (createReadOnlyRole): what the edge is given. */
const EDGE_ROLE = { name: 'bc_edge_reader', password: 'edge-reader-test-password' };

/**
 * The origin the edge depends on, started for real in Node before the Workers pool starts: an
 * embedded PostgreSQL, the platform's own app on a port of its own, a sign-in for an access
 * token, and an annotation written through tRPC.
 */
export default async function setup(project: TestProject) {
  const root = await mkdtemp(join(tmpdir(), 'bc-edge-origin-'));
  // PostgreSQL runs as the `postgres` user when we are root: it must be able to reach its folder.
  await chmod(root, 0o755);
  const postgres = await startEmbeddedPostgres({ dataDir: join(root, 'data') });
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: postgres.url,
    DATA_DIR: root,
    LOG_LEVEL: 'warn',
    // scrypt at 2^10: one sign-in, not a password store.
    AUTH_PASSWORD_COST: '10',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  });
  const logger = createLogger({ level: config.LOG_LEVEL });
  const deps = buildDependencies({
    config,
    logger,
    build: readBuildInfo(),
    databaseUrl: postgres.url,
    kek: new Uint8Array(randomBytes(32)),
  });
  await deps.initializer.start();
  const server = await serve(createApp(deps).fetch, {
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: config.BODY_LIMIT_BYTES,
  });
  const originUrl = `http://127.0.0.1:${server.port}`;

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

  console.log(`origin (Node ${process.versions.node}) at ${originUrl}; PostgreSQL on port ${postgres.port}`);
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
    // pg's pool resolves end() before its sockets have closed, so stopping PostgreSQL right after
    // makes the origin warn about connections it is closing anyway.
    logger.level = 'error';
    await server.close();
    await deps.initializer.stop();
    await deps.database.close();
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
