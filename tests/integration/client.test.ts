import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClient,
  errorDetails,
  type FetchLike,
  PlatformClientError,
  SecondFactorRequiredError,
  type SessionTokens,
  sessionOf,
} from '../../client';
import { totpCode } from '../../server/services/auth/totp';
import { startTestApp, type TestApp } from '../helpers/app';
import { createApiKey, createUser, login, type TestUser } from '../helpers/auth';

// The client package against the whole app in process: its fetch is the app's request(), wrapped
// to count, break, slow down or make a browser of the requests it sends.

const URL_BASE = 'http://platform.test';
const FAST_RETRIES = { baseDelayMs: 5, maxDelayMs: 20 };

let t: TestApp;
let operator: TestUser;

beforeAll(async () => {
  t = await startTestApp();
  operator = await createUser(t, 'operator');
});
afterAll(() => t?.close());

interface Sent {
  /** Procedure paths of the request, e.g. ['auth.me', 'auth.me'] for a batch of two. */
  paths: string[];
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
  credentials: RequestCredentials | undefined;
  status: number | 'network error';
  signal: AbortSignal | null;
}

/**
 * The app as a fetch, every request recorded. `intercept` may answer instead of the app (return
 * a Response), throw (a network error), or wait; it runs before the app sees the request.
 */
function appFetch(
  intercept?: (sent: Sent, index: number) => Promise<Response | undefined> | Response | undefined,
) {
  const sent: Sent[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    const record: Sent = {
      paths: decodeURIComponent(url.pathname.slice('/api/trpc/'.length)).split(','),
      url: input,
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === 'string' ? init.body : null,
      credentials: init.credentials,
      status: 'network error',
      signal: init.signal ?? null,
    };
    sent.push(record);
    const answer = (await intercept?.(record, sent.length - 1)) ?? (await t.app.request(input, init));
    record.status = answer.status;
    return answer;
  };
  return {
    fetch,
    sent,
    /** How many requests called `path` (alone or in a batch). */
    calls: (path: string) => sent.filter((s) => s.paths.includes(path)).length,
  };
}

/** What a call failed with; fails the test if it succeeded. */
async function failure(promise: Promise<unknown>): Promise<PlatformClientError> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(PlatformClientError);
  return outcome as PlatformClientError;
}

function networkFailure(): never {
  throw new TypeError('fetch failed');
}

/** Waits `ms` unless the request is aborted first, as a real slow server would be left. */
function slowAnswer(sent: Sent, ms: number): Promise<undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    sent.signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(sent.signal?.reason);
    });
  });
}

describe('API-key client', () => {
  it('calls a protected procedure with the key as a Bearer token', async () => {
    const key = await createApiKey(t, operator);
    const app = appFetch();
    const client = createClient({ url: URL_BASE, apiKey: key.key, fetch: app.fetch });

    const me = await client.auth.me.query();
    const keys = await client.auth.apiKeys.list.query({ limit: 5 });

    expect(me).toMatchObject({ kind: 'apiKey', userId: operator.id, apiKeyId: key.id });
    expect(keys.items.some((k: { id: string }) => k.id === key.id)).toBe(true);
    expect(app.sent.map((s) => s.headers.authorization)).toEqual([
      key.headers.authorization,
      key.headers.authorization,
    ]);
    expect(sessionOf(client)).toBeNull();
  });
});

describe('session client', () => {
  it('signs in with a password on its first call and hands the tokens to onTokens', async () => {
    const app = appFetch();
    const persisted: SessionTokens[] = [];
    const client = createClient({
      url: URL_BASE,
      credentials: { email: operator.email, password: operator.password },
      onTokens: (tokens) => {
        persisted.push(tokens);
      },
      fetch: app.fetch,
    });

    const [me, again] = await Promise.all([client.auth.me.query(), client.auth.me.query()]);

    expect(me).toMatchObject({ kind: 'user', userId: operator.id });
    expect(again.sessionId).toBe(me.sessionId);
    expect(app.calls('auth.login')).toBe(1);
    expect(persisted).toHaveLength(1);
    expect(persisted[0]?.refreshToken).toEqual(expect.any(String));
    expect(sessionOf(client)?.tokens()?.session?.id).toBe(me.sessionId);
  });

  it('renews a refused access token with ONE refresh for 10 concurrent calls, all of which succeed', async () => {
    const app = appFetch();
    const persisted: SessionTokens[] = [];
    const client = createClient({
      url: URL_BASE,
      credentials: { email: operator.email, password: operator.password },
      onTokens: (tokens) => {
        persisted.push(tokens);
      },
      fetch: app.fetch,
    });
    const session = sessionOf(client)!;
    await client.auth.me.query();
    const signedIn = session.tokens()!;
    // The token holder now has a token the server refuses, as after expiry or a key rotation.
    session.setTokens({ ...signedIn, accessToken: 'stale.access.token' });

    const results = await Promise.all(Array.from({ length: 10 }, () => client.auth.me.query()));

    expect(results.map((r) => r.userId)).toEqual(Array(10).fill(operator.id));
    expect(app.calls('auth.refresh')).toBe(1);
    // Every call was refused once and sent again once: no call retried more.
    expect(app.sent.filter((s) => s.status === 401).flatMap((s) => s.paths)).toHaveLength(10);
    expect(app.sent.filter((s) => s.paths.includes('auth.me')).flatMap((s) => s.paths)).toHaveLength(21);
    // The refresh presented the token of the login, and onTokens got the rotated pair.
    const refresh = app.sent.find((s) => s.paths[0] === 'auth.refresh')!;
    expect(JSON.parse(refresh.body!)).toEqual({ refreshToken: signedIn.refreshToken });
    expect(persisted).toHaveLength(2);
    const rotated = persisted[1]!;
    expect(rotated.refreshToken).toEqual(expect.any(String));
    expect(rotated.refreshToken).not.toBe(signedIn.refreshToken);
    expect(rotated.accessToken).toBe(session.tokens()?.accessToken);
  });

  it('renews once when the refused calls come back in separate responses, and uses the rotated token next', async () => {
    // Half of the refused calls get their answer only once the session holds the renewed tokens
    // (onTokens ran, and a macrotask later the refresh has settled): they must see that the
    // tokens changed since they were sent, and not refresh again.
    let renewed: () => void = () => {};
    const renewal = new Promise<void>((resolve) => {
      renewed = resolve;
    });
    let refused = 0;
    const app = appFetch(async (sent) => {
      if (sent.paths[0] !== 'auth.me') return undefined;
      const answer = await t.app.request(sent.url, { headers: sent.headers });
      if (answer.status === 401 && refused++ % 2 === 1) {
        await renewal;
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      return answer;
    });
    const persisted: SessionTokens[] = [];
    const client = createClient({
      url: URL_BASE,
      credentials: { email: operator.email, password: operator.password },
      onTokens: (tokens) => {
        persisted.push(tokens);
        if (persisted.length === 2) renewed();
      },
      fetch: app.fetch,
      // One call per request: the ten 401s arrive one by one.
      batch: { maxItems: 1 },
    });
    const session = sessionOf(client)!;
    await client.auth.me.query();
    session.setTokens({ ...session.tokens()!, accessToken: 'stale.access.token' });

    await Promise.all(Array.from({ length: 10 }, () => client.auth.me.query()));
    expect(app.calls('auth.refresh')).toBe(1);
    expect(app.sent.filter((s) => s.status === 401)).toHaveLength(10);
    expect(refused).toBe(10);

    // A second expiry refreshes with the token of the first rotation, not the spent one.
    const rotated = persisted.at(-1)!.refreshToken;
    session.setTokens({ ...session.tokens()!, accessToken: 'stale.again' });
    await Promise.all(Array.from({ length: 5 }, () => client.auth.me.query()));
    const refreshes = app.sent.filter((s) => s.paths[0] === 'auth.refresh');
    expect(refreshes).toHaveLength(2);
    expect(JSON.parse(refreshes[1]!.body!)).toEqual({ refreshToken: rotated });
    expect(persisted).toHaveLength(3);
  });

  it('surfaces UNAUTHORIZED to every call when the refresh token was reused after rotation, without looping', async () => {
    const signedIn = await login(t, operator);
    // Someone else rotated this refresh token twice: presenting the original now is reuse.
    const first = await refreshOverHttp(signedIn.refreshToken);
    await refreshOverHttp(first);
    const app = appFetch();
    const ended: PlatformClientError[] = [];
    const client = createClient({
      url: URL_BASE,
      credentials: { refreshToken: signedIn.refreshToken },
      onSessionEnded: (reason) => ended.push(reason),
      fetch: app.fetch,
      retry: FAST_RETRIES,
    });
    sessionOf(client)!.setTokens({
      accessToken: 'stale.access.token',
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
      refreshToken: signedIn.refreshToken,
    });

    const errors = await Promise.all(Array.from({ length: 10 }, () => failure(client.auth.me.query())));

    expect(errors.map((e) => e.code)).toEqual(Array(10).fill('UNAUTHORIZED'));
    expect(errors.map((e) => e.httpStatus)).toEqual(Array(10).fill(401));
    expect(errors[0]?.message).toMatch(/session has ended/);
    // One batch refused, one refresh refused, and nothing after.
    expect(app.sent.map((s) => [s.paths[0], s.status])).toEqual([
      ['auth.me', 401],
      ['auth.refresh', 401],
    ]);
    expect(ended).toHaveLength(1);
    expect(sessionOf(client)!.endedBy()?.code).toBe('UNAUTHORIZED');

    // Later calls go without a token and are refused by the server; no refresh is tried again.
    expect((await failure(client.auth.me.query())).code).toBe('UNAUTHORIZED');
    expect(app.calls('auth.refresh')).toBe(1);
    expect(app.sent.at(-1)?.headers.authorization).toBeUndefined();
    // A public procedure still answers.
    expect((await client.system.info.query()).version).toEqual(expect.any(String));
  });

  it('does not renew twice for one call: a call refused again with new tokens fails', async () => {
    // A server that refuses every access token for auth.me, even freshly renewed ones.
    const app = appFetch((sent) =>
      sent.paths[0] === 'auth.me'
        ? t.app.request(sent.url, { headers: { ...sent.headers, authorization: 'Bearer refused.token' } })
        : undefined,
    );
    const client = createClient({
      url: URL_BASE,
      credentials: { email: operator.email, password: operator.password },
      fetch: app.fetch,
    });

    const error = await failure(client.auth.me.query());

    expect(error.code).toBe('UNAUTHORIZED');
    expect(app.sent.map((s) => [s.paths[0], s.status])).toEqual([
      ['auth.login', 200],
      ['auth.me', 401],
      ['auth.refresh', 200],
      ['auth.me', 401],
    ]);
  });

  it('surfaces a refused password to the calls that needed it, then stays signed out', async () => {
    const app = appFetch();
    const client = createClient({
      url: URL_BASE,
      credentials: { email: operator.email, password: 'not-the-password-0000' },
      fetch: app.fetch,
    });

    const errors = await Promise.all([failure(client.auth.me.query()), failure(client.auth.me.query())]);

    expect(errors.map((e) => e.code)).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED']);
    expect(errors[0]?.message).toMatch(/invalid email or password/);
    expect(app.calls('auth.login')).toBe(1);
    expect(app.calls('auth.me')).toBe(0);
  });

  it('renews the access token shortly before it expires, without a refused call', async () => {
    let now = Date.now();
    const app = appFetch();
    const client = createClient({
      url: URL_BASE,
      credentials: { email: operator.email, password: operator.password },
      fetch: app.fetch,
      clock: () => now,
    });
    await client.auth.me.query();
    const before = sessionOf(client)!.tokens()!;

    // 900 s tokens (AUTH_ACCESS_TOKEN_TTL_SECONDS): 14½ minutes on, the next call renews first.
    now += 870_000;
    await Promise.all([client.auth.me.query(), client.auth.me.query()]);

    expect(app.calls('auth.refresh')).toBe(1);
    expect(app.sent.filter((s) => s.status === 401)).toEqual([]);
    expect(sessionOf(client)!.tokens()!.accessToken).not.toBe(before.accessToken);
  });

  it('logs out: the server ends the session and later calls are refused without a refresh', async () => {
    const app = appFetch();
    const client = createClient({
      url: URL_BASE,
      credentials: { email: operator.email, password: operator.password },
      fetch: app.fetch,
    });
    const { sessionId } = await client.auth.me.query();

    await sessionOf(client)!.logout();

    const row = await t.deps.database.db
      .selectFrom('sessions')
      .select('revoked_at')
      .where('id', '=', sessionId!)
      .executeTakeFirstOrThrow();
    expect(row.revoked_at).not.toBeNull();
    expect((await failure(client.auth.me.query())).code).toBe('UNAUTHORIZED');
    expect(app.calls('auth.refresh')).toBe(0);
    expect(sessionOf(client)!.tokens()).toBeNull();
  });
});

describe('browser session (refresh cookie)', () => {
  /** A browser in front of the app: Fetch Metadata, Origin, and a cookie jar for the refresh cookie. */
  function browserFetch() {
    let jar: string | null = null;
    return appFetch(async (sent) => {
      const headers = new Headers(sent.headers);
      headers.set('sec-fetch-site', 'same-origin');
      headers.set('origin', URL_BASE);
      if (jar) headers.set('cookie', jar);
      const init: RequestInit = { method: sent.method, headers, signal: sent.signal };
      if (sent.body !== null) init.body = sent.body;
      const answer = await t.app.request(sent.url, init);
      const cookie = answer.headers.get('set-cookie')?.match(/^bc_refresh=([^;]*)/);
      if (cookie) jar = cookie[1] ? `bc_refresh=${cookie[1]}` : null;
      return answer;
    });
  }

  it('signs in, keeps no refresh token, and refreshes once by cookie with credentials: include', async () => {
    const app = browserFetch();
    const persisted: SessionTokens[] = [];
    const client = createClient({
      url: URL_BASE,
      credentials: 'cookie',
      onTokens: (tokens) => {
        persisted.push(tokens);
      },
      fetch: app.fetch,
    });
    const session = sessionOf(client)!;
    const issued = await session.login({ email: operator.email, password: operator.password });
    expect(issued.refreshToken).toBeNull();
    session.setTokens({ ...session.tokens()!, accessToken: 'stale.access.token' });

    const results = await Promise.all(Array.from({ length: 10 }, () => client.auth.me.query()));

    expect(results.map((r) => r.userId)).toEqual(Array(10).fill(operator.id));
    const refreshes = app.sent.filter((s) => s.paths[0] === 'auth.refresh');
    expect(refreshes).toHaveLength(1);
    expect(refreshes[0]?.credentials).toBe('include');
    expect(refreshes[0]?.body ?? '').not.toContain('refreshToken');
    expect(app.sent.find((s) => s.paths[0] === 'auth.login')?.credentials).toBe('include');
    expect(persisted.map((p) => p.refreshToken)).toEqual([null, null]);
  });

  it('without a cookie, the first call is refused and the session reports that it ended', async () => {
    const app = browserFetch();
    const ended: PlatformClientError[] = [];
    const client = createClient({
      url: URL_BASE,
      credentials: 'cookie',
      fetch: app.fetch,
      onSessionEnded: (reason) => ended.push(reason),
    });

    const error = await failure(client.auth.me.query());

    expect(error.code).toBe('UNAUTHORIZED');
    expect(ended).toHaveLength(1);
    expect(app.calls('auth.refresh')).toBe(1);
  });
});

describe('retries', () => {
  it('retries a query whose first two requests fail with a network error', async () => {
    const app = appFetch((_sent, index) => (index < 2 ? networkFailure() : undefined));
    const client = createClient({ url: URL_BASE, fetch: app.fetch, retry: FAST_RETRIES });

    const info = await client.system.info.query();

    expect(info.version).toEqual(expect.any(String));
    expect(app.sent.map((s) => s.status)).toEqual(['network error', 'network error', 200]);
  });

  it('gives up after the configured retries with a NETWORK_ERROR', async () => {
    const app = appFetch(() => networkFailure());
    const client = createClient({ url: URL_BASE, fetch: app.fetch, retry: { ...FAST_RETRIES, retries: 2 } });

    const error = await failure(client.system.info.query());

    expect(error.code).toBe('NETWORK_ERROR');
    expect(error.httpStatus).toBeNull();
    expect(app.sent).toHaveLength(3);
  });

  it('never retries a mutation after a network error unless it is marked idempotent', async () => {
    const key = await createApiKey(t, operator);
    const failFirstOfEach = () => {
      let failed = false;
      return () => {
        if (failed) return undefined;
        failed = true;
        return networkFailure();
      };
    };
    const plain = appFetch(failFirstOfEach());
    const client = createClient({ url: URL_BASE, apiKey: key.key, fetch: plain.fetch, retry: FAST_RETRIES });
    const error = await failure(client.auth.apiKeys.update.mutate({ id: key.id, name: 'renamed once' }));
    expect(error.code).toBe('NETWORK_ERROR');
    expect(plain.sent).toHaveLength(1);

    // Marked per call.
    const perCall = appFetch(failFirstOfEach());
    const marked = createClient({
      url: URL_BASE,
      apiKey: key.key,
      fetch: perCall.fetch,
      retry: FAST_RETRIES,
    });
    const renamed = await marked.auth.apiKeys.update.mutate(
      { id: key.id, name: 'renamed per call' },
      { context: { idempotent: true } },
    );
    expect(renamed.name).toBe('renamed per call');
    expect(perCall.sent.map((s) => s.status)).toEqual(['network error', 200]);

    // Marked by procedure path in the client's options.
    const byPath = appFetch(failFirstOfEach());
    const listed = createClient({
      url: URL_BASE,
      apiKey: key.key,
      fetch: byPath.fetch,
      retry: { ...FAST_RETRIES, idempotent: ['auth.apiKeys.update'] },
    });
    expect((await listed.auth.apiKeys.update.mutate({ id: key.id, name: 'renamed by path' })).name).toBe(
      'renamed by path',
    );
    expect(byPath.sent).toHaveLength(2);
  });

  it("retries a query after a gateway's 503, waiting out its Retry-After", async () => {
    const app = appFetch((_sent, index) =>
      index === 0
        ? new Response('<html>upstream unavailable</html>', {
            status: 503,
            headers: { 'content-type': 'text/html', 'retry-after': '1' },
          })
        : undefined,
    );
    const client = createClient({ url: URL_BASE, fetch: app.fetch, retry: FAST_RETRIES });

    const started = Date.now();
    await client.system.info.query();

    expect(app.sent.map((s) => s.status)).toEqual([503, 200]);
    // Coarse: the backoff alone is at most 20 ms here, so only Retry-After explains a second.
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('does not wait out a Retry-After longer than maxRetryAfterMs, nor retry a mutation after a 502', async () => {
    const app = appFetch((sent) =>
      sent.paths[0] === 'system.info'
        ? new Response('busy', {
            status: 503,
            headers: { 'content-type': 'text/plain', 'retry-after': '120' },
          })
        : new Response('<html>bad gateway</html>', { status: 502, headers: { 'content-type': 'text/html' } }),
    );
    const key = await createApiKey(t, operator);
    const client = createClient({ url: URL_BASE, apiKey: key.key, fetch: app.fetch, retry: FAST_RETRIES });

    const query = await failure(client.system.info.query());
    const mutation = await failure(
      client.auth.apiKeys.update.mutate({ id: key.id, name: 'never sent twice' }),
    );

    expect(query).toMatchObject({ code: 'SERVICE_UNAVAILABLE', httpStatus: 503, retryAfterMs: 120_000 });
    expect(mutation).toMatchObject({ code: 'BAD_GATEWAY', httpStatus: 502 });
    expect(app.sent.map((s) => s.status)).toEqual([503, 502]);
  });
});

describe("the platform's own 503", () => {
  it('carries Retry-After from a JSON answer, and a refused mutation is not sent again', async () => {
    const app = appFetch();
    const admin = createClient({
      url: URL_BASE,
      apiKey: t.admin.authorization.slice('Bearer '.length),
      fetch: app.fetch,
      retry: FAST_RETRIES,
    });
    await admin.devops.maintenance.set.mutate({
      enabled: true,
      message: 'client test',
      retryAfterSeconds: 120,
    });
    try {
      const error = await failure(admin.system.annotations.create.mutate({ text: 'during maintenance' }));

      expect(error).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        httpStatus: 503,
        retryAfterMs: 120_000,
        message: 'in maintenance: client test',
      });
      expect(error.requestId).toEqual(expect.any(String));
      expect(app.calls('system.annotations.create')).toBe(1);
    } finally {
      await admin.devops.maintenance.set.mutate({ enabled: false });
    }
  });
});

describe('timeouts and cancellation', () => {
  it('times out a slow call with a clear error and aborts its request', async () => {
    const app = appFetch((sent) => slowAnswer(sent, 5_000));
    const client = createClient({ url: URL_BASE, fetch: app.fetch, timeoutMs: 200 });

    const error = await failure(client.system.info.query());

    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toBe('system.info timed out after 200 ms');
    expect(error.path).toBe('system.info');
    expect(app.sent[0]?.signal?.aborted).toBe(true);
  });

  it('takes a timeout per call from its context', async () => {
    const app = appFetch((sent) => slowAnswer(sent, 5_000));
    const client = createClient({ url: URL_BASE, fetch: app.fetch });

    const error = await failure(client.system.info.query(undefined, { context: { timeoutMs: 100 } }));

    expect(error).toMatchObject({ code: 'TIMEOUT', message: 'system.info timed out after 100 ms' });
  });

  it('cancels a call when its AbortSignal fires, and sends nothing for one already aborted', async () => {
    const controller = new AbortController();
    const app = appFetch((sent) => {
      // The request is on its way: the caller changes its mind.
      controller.abort();
      return slowAnswer(sent, 5_000);
    });
    const client = createClient({ url: URL_BASE, fetch: app.fetch });

    const error = await failure(client.system.info.query(undefined, { signal: controller.signal }));
    expect(error.code).toBe('ABORTED');
    expect(app.sent[0]?.signal?.aborted).toBe(true);

    const again = await failure(client.system.info.query(undefined, { signal: controller.signal }));
    expect(again.code).toBe('ABORTED');
    expect(app.sent).toHaveLength(1);
  });
});

describe('typed errors', () => {
  it('exposes code, HTTP status, message, request id and the validation issues of invalid input', async () => {
    const key = await createApiKey(t, operator);
    const app = appFetch();
    const client = createClient({ url: URL_BASE, apiKey: key.key, fetch: app.fetch });

    const error = await failure(client.auth.apiKeys.create.mutate({ name: '', expiresAt: 'not a date' }));

    expect(error.code).toBe('BAD_REQUEST');
    expect(error.httpStatus).toBe(400);
    // `status` is the documented alias (fetch's name for it).
    expect(error.status).toBe(400);
    expect(error.message).toMatch(/^invalid input: /);
    expect(error.requestId).toEqual(expect.any(String));
    expect(error.validation?.fieldErrors.name?.length).toBeGreaterThan(0);
    expect(error.validation?.fieldErrors.expiresAt?.length).toBeGreaterThan(0);
    expect(error.path).toBe('auth.apiKeys.create');
    // Still a TRPCClientError with the server's shape, and the same details as a plain object.
    expect(error.data?.code).toBe('BAD_REQUEST');
    expect(errorDetails(error)).toEqual({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      message: error.message,
      requestId: error.requestId,
      validation: error.validation,
      retryAfterMs: null,
    });
    expect(errorDetails(new Error('not from the client'))).toBeNull();
    expect(app.sent).toHaveLength(1);
  });

  it('gives FORBIDDEN with its request id for a role the caller lacks', async () => {
    const viewer = await createUser(t, 'viewer');
    const client = createClient({
      url: URL_BASE,
      credentials: { email: viewer.email, password: viewer.password },
      fetch: appFetch().fetch,
    });

    const error = await failure(client.auth.users.list.query({}));

    expect(error).toMatchObject({ code: 'FORBIDDEN', httpStatus: 403, validation: null });
    expect(error.requestId).toEqual(expect.any(String));
  });
});

describe('batching', () => {
  it('sends 30 concurrent queries in 2 requests with maxItems 20', async () => {
    const key = await createApiKey(t, operator);
    const app = appFetch();
    const client = createClient({
      url: URL_BASE,
      apiKey: key.key,
      fetch: app.fetch,
      batch: { maxItems: 20 },
    });

    const results = await Promise.all(Array.from({ length: 30 }, () => client.auth.me.query()));

    expect(results.every((r) => r.apiKeyId === key.id)).toBe(true);
    expect(app.sent.map((s) => s.paths.length)).toEqual([20, 10]);
    expect(Math.max(...app.sent.map((s) => s.url.length))).toBeLessThanOrEqual(4_000);
  });

  it('splits batches to keep every URL within maxURLLength', async () => {
    const key = await createApiKey(t, operator);
    const keys = await Promise.all(Array.from({ length: 30 }, () => createApiKey(t, operator)));
    const app = appFetch();
    const client = createClient({
      url: URL_BASE,
      apiKey: key.key,
      fetch: app.fetch,
      batch: { maxItems: 20, maxURLLength: 1_000 },
    });

    const results = await Promise.all(keys.map((k) => client.auth.apiKeys.get.query({ id: k.id })));

    expect(results.map((r) => r.id)).toEqual(keys.map((k) => k.id));
    expect(app.sent.length).toBeGreaterThanOrEqual(3);
    expect(app.sent.flatMap((s) => s.paths)).toHaveLength(30);
    for (const request of app.sent) expect(request.url.length).toBeLessThanOrEqual(1_000);
  });
});

async function refreshOverHttp(refreshToken: string): Promise<string> {
  const response = await t.app.request('/api/trpc/auth.refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken }),
  });
  const body = (await response.json()) as { result?: { data?: { refreshToken: string } } };
  if (!body.result?.data) throw new Error(`refresh failed: ${response.status}`);
  return body.result.data.refreshToken;
}

describe('two-step sign-in', () => {
  it("login throws SecondFactorRequiredError with the challenge; the second step's tokens complete the session", async () => {
    const user = await createUser(t, 'viewer');
    const actor = {
      kind: 'user' as const,
      userId: user.id,
      organizationId: user.organizationId,
      role: user.role,
      platformRole: null,
      sessionId: 'test',
    };
    const { secret } = await t.deps.auth.factors.beginTotp(actor);
    await t.deps.auth.factors.confirmTotp(actor, totpCode(secret, new Date()));

    const app = appFetch();
    const client = createClient({ url: URL_BASE, credentials: 'cookie', fetch: app.fetch });
    const session = sessionOf(client)!;
    const refused = await session.login({ email: user.email, password: user.password }).catch((e) => e);
    expect(refused).toBeInstanceOf(SecondFactorRequiredError);
    expect(refused.challenge).toMatchObject({ purpose: 'verify', methods: ['totp', 'recovery_code'] });
    expect(session.tokens()).toBeNull();

    // The second step is a public call: made without the session, which has no token yet.
    const anonymous = createClient({ url: URL_BASE, fetch: app.fetch });
    const tokens = await anonymous.auth.secondFactor.verify.mutate({
      challenge: refused.challenge.challenge,
      // The next time step's code: the enrolment spent this one's.
      code: totpCode(secret, new Date(Date.now() + 30_000)),
    });
    await session.completeSignIn(tokens);
    expect((await client.auth.me.query()).userId).toBe(user.id);
    expect(session.tokens()?.refreshToken).toEqual(expect.any(String));
  });
});
