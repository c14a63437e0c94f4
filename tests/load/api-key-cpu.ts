/**
 * CPU µs per request of an API-key call (tRPC auth.me) and where it goes beyond an anonymous
 * public one (system.info), measured in process: the whole app built the way main.ts builds it
 * (production defaults: access log at info, metrics, analytics, rate limits, secure headers),
 * N sequential `app.fetch` calls per variant, CPU from `process.cpuUsage()` (user + system, every
 * thread: GC and the log writer count).
 *
 *   ./node_modules/.bin/bun tests/load/api-key-cpu.ts
 *   node --import tsx tests/load/api-key-cpu.ts
 *
 * Rows, all through the single-call path:
 * - system.info, anonymous: the public path (per-address limit, no credential);
 * - system.info with the key: public, so the key is never verified, and no per-address limit
 *   (a request with a credential skips it): the floor every keyed call stands on;
 * - auth.me, key as `X-API-Key` and as `Authorization: Bearer` (what `npm run bench` sends);
 * - auth.me with the verification replaced by its cached answer (for the measurement only: the
 *   authenticator handed to `createApp` answers the key's principal without looking at the key),
 *   which prices verification (shape check, hash, cache, usage, metrics) against the rest (the
 *   policy middleware level, the resolver, a larger answer);
 * - auth.me with a key that has a rate limit (one named limit far above what the run spends),
 *   to price a per-key limit and its RateLimit header.
 *
 * Not a test and not the benchmark: a table of µs per request to compare before and after a
 * change on one machine. Environment: API_KEY_CPU_REQUESTS (20000 a round), API_KEY_CPU_ROUNDS (5;
 * the least is printed: on a shared machine noise only ever adds), DATABASE_URL (else an embedded
 * PostgreSQL in a throwaway folder).
 */

import { createApp } from '../../server/http/app';
import type { AppDeps } from '../../server/http/deps';
import type { Authenticated, Authenticator } from '../../server/services/auth/authenticator';
import { API_KEY_SCOPES } from '../../shared/auth';
import { cpuPerRequest, type Fetch, runScript, startInProcessPlatform } from './lib/in-process';

const REQUESTS = Number(process.env.API_KEY_CPU_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.API_KEY_CPU_ROUNDS ?? 5);
const ORIGIN = 'http://127.0.0.1';

interface Row {
  name: string;
  fetch: Fetch;
  request: () => Request;
}

async function main(): Promise<void> {
  const platform = await startInProcessPlatform('api-key-cpu');
  const { deps, key } = platform;
  try {
    const limitedKey = await createLimitedKey(deps);
    const app = appOf(deps);
    const me = `${ORIGIN}/api/trpc/auth.me`;
    const info = `${ORIGIN}/api/trpc/system.info`;
    const rows: Row[] = [
      { name: 'system.info, anonymous', fetch: app, request: () => new Request(info) },
      {
        name: 'system.info, with the key',
        fetch: app,
        request: () => new Request(info, { headers: { 'x-api-key': key } }),
      },
      {
        name: 'auth.me, X-API-Key',
        fetch: app,
        request: () => new Request(me, { headers: { 'x-api-key': key } }),
      },
      {
        name: 'auth.me, Authorization: Bearer',
        fetch: app,
        request: () => new Request(me, { headers: { authorization: `Bearer ${key}` } }),
      },
      {
        name: 'auth.me, verification answered',
        fetch: appOf({ ...deps, auth: { ...deps.auth, authenticator: await answering(deps, key) } }),
        request: () => new Request(me, { headers: { 'x-api-key': key } }),
      },
      {
        name: 'auth.me, key with a rate limit',
        fetch: app,
        request: () => new Request(me, { headers: { 'x-api-key': limitedKey } }),
      },
    ];

    console.log(
      `api-key-cpu on ${platform.runtime}: ` +
        `${REQUESTS} sequential requests a round, least of ${ROUNDS} rounds, CPU µs per request`,
    );
    const samples = new Map<string, number[]>(rows.map((row) => [row.name, []]));
    for (const row of rows) await cpuPerRequest(row.fetch, row.request, Math.min(REQUESTS, 5_000));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order so that drift in the machine's speed lands on every row.
      const order = round % 2 === 0 ? rows : [...rows].reverse();
      for (const row of order)
        samples.get(row.name)!.push(await cpuPerRequest(row.fetch, row.request, REQUESTS));
    }
    const floor = Math.min(...samples.get('system.info, with the key')!);
    for (const row of rows) {
      const us = Math.min(...samples.get(row.name)!);
      const delta = us - floor;
      console.log(
        `  ${row.name.padEnd(34)} ${us.toFixed(1).padStart(7)} µs  (${delta >= 0 ? '+' : ''}${delta.toFixed(1)} over system.info with the key)`,
      );
    }
  } finally {
    await platform.close();
  }
}

function appOf(deps: AppDeps): Fetch {
  const app = createApp(deps);
  return (request) => app.fetch(request);
}

/** An authenticator whose API-key answer is the key's verified one, made once (the measurement's ablation). */
async function answering(deps: AppDeps, key: string): Promise<Authenticator> {
  const authenticator = deps.auth.authenticator;
  const answer: Authenticated = await authenticator.apiKey(key, undefined);
  const stand = Object.create(authenticator) as Authenticator;
  const settled = Promise.resolve(answer);
  stand.apiKey = () => settled;
  return stand;
}

/** A second key of the same owner with one named rate limit the run never reaches. */
async function createLimitedKey(deps: AppDeps): Promise<string> {
  const owner = await deps.database.db
    .selectFrom('users')
    .select(['id', 'organization_id', 'role'])
    .where('email', '=', 'api-key-cpu@platform.test')
    .executeTakeFirstOrThrow();
  const { key } = await deps.auth.apiKeys.create(
    { organizationId: owner.organization_id, userId: owner.id, role: owner.role },
    {
      name: 'api-key-cpu-limited',
      scopes: [...API_KEY_SCOPES],
      rateLimits: [{ name: 'burst', limit: 100_000_000, periodMs: 60_000 }],
    },
  );
  return key;
}

runScript(main);
