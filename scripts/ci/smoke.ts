/**
 * Smoke test of a running platform, as the pipeline runs it after each deploy and as anyone can
 * run it locally:
 *
 *   scripts/ci/smoke.sh http://127.0.0.1:3000
 *
 * Waits (up to SMOKE_TIMEOUT_SECONDS, default 120) for readiness, then checks the routes every
 * orchestrator and client relies on. With SMOKE_EMAIL and SMOKE_PASSWORD it also signs in and
 * makes authenticated calls; with SMOKE_EXPECT_COMMIT it checks the instance runs that build (so
 * a smoke test cannot pass against the previous release still serving). SMOKE_METRICS_TOKEN is
 * the scrape token when /metrics requires one. Prints one line per check; exits 0 when all pass,
 * 1 when any fails, 2 on bad usage.
 */

interface Check {
  name: string;
  run: () => Promise<string>;
}

const env = process.env;
const base = (process.argv[2] ?? env.SMOKE_URL ?? '').replace(/\/+$/, '');
const readyTimeoutMs = Number(env.SMOKE_TIMEOUT_SECONDS ?? '120') * 1000;
const requestTimeoutMs = 10_000;

class SmokeFailure extends Error {}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new SmokeFailure(message);
}

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(requestTimeoutMs) });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new SmokeFailure(`${response.status}: not JSON: ${text.slice(0, 200)}`);
  }
}

/** `result.data` of a tRPC answer, or a failure naming the tRPC error. */
async function trpcData(response: Response): Promise<Record<string, unknown>> {
  const body = await json(response);
  const data = (body.result as { data?: Record<string, unknown> } | undefined)?.data;
  if (response.status !== 200 || !data) {
    throw new SmokeFailure(`${response.status}: ${JSON.stringify(body.error ?? body).slice(0, 300)}`);
  }
  return data;
}

let accessToken: string | undefined;

const checks: Check[] = [
  {
    // A fresh rollout may still be migrating; readiness is the orchestrator's own gate.
    name: 'ready',
    async run() {
      const deadline = Date.now() + readyTimeoutMs;
      let last = 'no answer';
      for (;;) {
        try {
          const response = await call('/api/health/ready');
          if (response.status === 200)
            return `after ${Math.round(readyTimeoutMs - (deadline - Date.now()))} ms`;
          last = `${response.status} ${(await response.text()).slice(0, 200)}`;
        } catch (error) {
          last = error instanceof Error ? error.message : String(error);
        }
        if (Date.now() >= deadline)
          throw new SmokeFailure(`not ready within ${readyTimeoutMs} ms (last: ${last})`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    },
  },
  {
    name: 'GET /api/health/lightweight',
    async run() {
      const response = await call('/api/health/lightweight');
      expect(response.status === 200, `status ${response.status}`);
      expect(response.headers.get('cache-control')?.includes('no-store'), 'no Cache-Control: no-store');
      expect(response.headers.get('x-request-id'), 'no X-Request-Id');
      return '200';
    },
  },
  {
    name: 'GET /api/health',
    async run() {
      const response = await call('/api/health');
      const body = await json(response);
      expect(response.status === 200, `status ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
      expect(
        response.headers.get('content-type')?.startsWith('application/health+json'),
        `content type ${response.headers.get('content-type')}`,
      );
      expect(body.status === 'pass' || body.status === 'warn', `status ${String(body.status)}`);
      return String(body.status);
    },
  },
  {
    name: 'system.info',
    async run() {
      const info = await trpcData(await call('/api/trpc/system.info'));
      const expected = env.SMOKE_EXPECT_COMMIT;
      if (expected) expect(info.commit === expected, `commit ${String(info.commit)}, expected ${expected}`);
      const runtime = info.runtime as { name?: string; version?: string } | undefined;
      return `${String(info.version)} ${String(info.commit)} on ${runtime?.name} ${runtime?.version}`;
    },
  },
  {
    name: 'GET /metrics',
    async run() {
      const token = env.SMOKE_METRICS_TOKEN;
      const response = await call('/metrics', token ? { headers: { authorization: `Bearer ${token}` } } : {});
      expect(response.status === 200, `status ${response.status}`);
      expect((await response.text()).includes('platform_build_info'), 'no platform_build_info series');
      return '200';
    },
  },
  {
    name: 'unknown route answers the error shape',
    async run() {
      const response = await call('/api/smoke-test-no-such-route');
      const body = await json(response);
      const error = body.error as { code?: string; requestId?: string } | undefined;
      expect(response.status === 404, `status ${response.status}`);
      expect(error?.code && error.requestId, `body ${JSON.stringify(body).slice(0, 200)}`);
      return `404 ${error.code}`;
    },
  },
];

if (env.SMOKE_EMAIL && env.SMOKE_PASSWORD) {
  checks.push(
    {
      name: 'auth.login',
      async run() {
        const data = await trpcData(
          await call('/api/trpc/auth.login', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: env.SMOKE_EMAIL, password: env.SMOKE_PASSWORD }),
          }),
        );
        expect(typeof data.accessToken === 'string', 'no access token');
        accessToken = data.accessToken;
        return 'signed in';
      },
    },
    {
      name: 'auth.me',
      async run() {
        expect(accessToken, 'not signed in');
        const me = await trpcData(
          await call('/api/trpc/auth.me', { headers: { authorization: `Bearer ${accessToken}` } }),
        );
        expect(me.kind === 'user', `kind ${String(me.kind)}`);
        return `${String(me.kind)} ${String(me.role)}`;
      },
    },
    {
      name: 'GET /api/system/status',
      async run() {
        expect(accessToken, 'not signed in');
        const response = await call('/api/system/status', {
          headers: { authorization: `Bearer ${accessToken}` },
        });
        // A viewer may not read it; 403 still proves authentication and routing work end to end.
        expect(response.status === 200 || response.status === 403, `status ${response.status}`);
        return String(response.status);
      },
    },
  );
}

async function main(): Promise<number> {
  if (!/^https?:\/\/[^/]+/.test(base)) {
    process.stderr.write('usage: smoke.sh BASE_URL   (or SMOKE_URL=...)\n');
    return 2;
  }
  process.stdout.write(`smoke test of ${base}\n`);
  let failed = 0;
  for (const check of checks) {
    try {
      process.stdout.write(`ok   ${check.name}: ${await check.run()}\n`);
    } catch (error) {
      failed++;
      process.stdout.write(`FAIL ${check.name}: ${error instanceof Error ? error.message : String(error)}\n`);
      // Without readiness every later check would only repeat the same failure.
      if (check.name === 'ready') break;
    }
  }
  process.stdout.write(failed === 0 ? 'smoke test passed\n' : `smoke test failed: ${failed} check(s)\n`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();

export {};
