import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { API_KEY_SCOPES } from '../../shared/auth';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import {
  adminHeaders,
  ROOT,
  type ServerProcess,
  startServer,
  stopAllServers,
} from '../helpers/server-process';

/**
 * A partner's program in another language: tests/conformance/run.py (Python's standard library
 * only) reads /api/openapi.json from a running server, calls every route it lists with an API
 * key, and checks each answer against the document. Every documented route must be called and
 * match (N of N).
 */
let database: TestDatabase;
let server: ServerProcess;
let key: string;

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startServer({
    runtime: 'node',
    // The devops area's deployments call a webhook receiver the Python program runs on loopback.
    // The run signs in from one address more than 10 times a minute (the second factor's steps
    // and the enrolment at sign-in spend the login policy too).
    env: {
      DATABASE_URL: database.url,
      OUTBOUND_ALLOW_DEPLOYMENT_WEBHOOK: '127.0.0.1',
      RATE_LIMIT_LOGIN_PER_MINUTE: '60',
    },
  });
  const admin = await adminHeaders(server);
  const created = await fetch(`${server.url}/api/trpc/auth.apiKeys.create`, {
    method: 'POST',
    headers: { ...admin, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'conformance', scopes: [...API_KEY_SCOPES] }),
  });
  const body = (await created.json()) as { result: { data: { key: string } } };
  key = body.result.data.key;
}, 120_000);

afterAll(async () => {
  await stopAllServers();
  await database?.drop();
});

it('a Python program calls every documented route and every answer matches the document', () => {
  const areas = process.env.CONFORMANCE_AREAS;
  const run = spawnSync(
    'python3',
    ['tests/conformance/run.py', '--base', server.url, '--key', key, ...(areas ? ['--areas', areas] : [])],
    { cwd: ROOT, encoding: 'utf8', timeout: 240_000 },
  );
  console.log(run.stdout, run.stderr);
  const summary = /conformance: (\d+) of (\d+) routes matched the document/.exec(run.stdout);
  expect(run.status, run.stdout + run.stderr).toBe(0);
  expect(summary).not.toBeNull();
  expect(Number(summary?.[1])).toBe(Number(summary?.[2]));
  expect(Number(summary?.[2])).toBeGreaterThan(0);
}, 300_000);
