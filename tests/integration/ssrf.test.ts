import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type PlatformClient } from '../../client';
import { startTestApp, type TestApp } from '../helpers/app';
import { eventually } from '../helpers/deployments';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server';

/**
 * Server-side request forgery, over the real API: every input that takes a URL the server will
 * call is given every spelling of an internal destination we know of, a DNS name that a real
 * (local) DNS server resolves to loopback, and a receiver that redirects to loopback. Each must be
 * refused, at creation or at use, with our short reason visible, and the servers standing in for
 * internal services must receive nothing.
 *
 * Loopback addresses stand in for the internal network: 127.0.0.1 is "internal" (never allowed),
 * 127.0.0.2 is the one receiver an operator allowed (OUTBOUND_ALLOW_*=127.0.0.2/32), and 127.0.0.3
 * is where that receiver redirects.
 */

interface Recorder {
  server: Server;
  port: number;
  paths: string[];
}

/** An HTTP server on `host` recording every request; `answer` decides the response. */
async function startRecorder(
  host: string,
  answer: (path: string, res: import('node:http').ServerResponse) => void = (_, res) => res.end(),
): Promise<Recorder> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    req.resume();
    req.on('end', () => answer(req.url ?? '', res));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, port: (server.address() as AddressInfo).port, paths };
}

async function stop(recorder: Recorder | undefined): Promise<void> {
  if (!recorder) return;
  recorder.server.closeAllConnections();
  await new Promise<void>((resolve) => recorder.server.close(() => resolve()));
}

const REBIND_NAME = 'internal.ssrf.test';
const SECRET = 'ssrf-test-webhook-secret-0123456789';

let t: TestApp;
let client: PlatformClient;
let dns: TestDnsServer;
/** An internal service on 127.0.0.1: must never be reached. */
let internal: Recorder;
/** The allow-listed receiver on 127.0.0.2: /redirect* answers 302 to `hidden`; the rest 200/204. */
let allowed: Recorder;
/** Where the allowed receiver redirects: must never be reached. */
let hidden: Recorder;

/** Every spelling of an internal destination, as a URL's authority (port: the internal server's). */
function staticCorpus(): [string, string][] {
  const p = internal.port;
  return [
    ['loopback IPv4', `127.0.0.1:${p}`],
    ['loopback IPv6', `[::1]:${p}`],
    ['unspecified IPv4', `0.0.0.0:${p}`],
    ['unspecified IPv6', `[::]:${p}`],
    ['cloud metadata', '169.254.169.254'],
    ['private 10/8', '10.0.0.1'],
    ['private 172.16/12', '172.16.0.1'],
    ['private 192.168/16', '192.168.1.1'],
    ['shared 100.64/10', '100.64.0.1'],
    ['unique-local fc00::/7', '[fc00::1]'],
    ['link-local fe80::/10', '[fe80::1]'],
    ['multicast IPv4', '224.0.0.1'],
    ['multicast IPv6', '[ff02::1]'],
    ['IPv4-mapped dotted', `[::ffff:127.0.0.1]:${p}`],
    ['IPv4-mapped hex', `[::ffff:7f00:1]:${p}`],
    ['decimal IPv4', `2130706433:${p}`],
    ['octal IPv4', `0177.0.0.1:${p}`],
    ['hex IPv4', `0x7f.0.0.1:${p}`],
    ['short IPv4', `127.1:${p}`],
    ['localhost', `localhost:${p}`],
    ['*.localhost', `foo.localhost:${p}`],
  ];
}

/** The refusals seen, one per (input, corpus entry). */
const outcomes: { input: string; entry: string; refused: boolean; reason: string }[] = [];

function record(input: string, entry: string, reason: string, refused: boolean): void {
  outcomes.push({ input, entry, refused, reason });
  expect(refused, `${input} ${entry}: ${reason}`).toBe(true);
}

/** The message of the refusal `call` ends in ('' when it succeeded). */
async function refusalOf(call: Promise<unknown>): Promise<{ code: string; message: string } | null> {
  try {
    await call;
    return null;
  } catch (error) {
    const e = error as { message: string; data?: { code?: string } };
    return { code: e.data?.code ?? '', message: e.message };
  }
}

beforeAll(async () => {
  dns = await startDnsServer({ [REBIND_NAME]: ['127.0.0.1'] });
  internal = await startRecorder('127.0.0.1', (_, res) => res.end('internal secrets'));
  hidden = await startRecorder('127.0.0.3', (_, res) => res.end('internal secrets'));
  allowed = await startRecorder('127.0.0.2', (path, res) => {
    if (path.startsWith('/redirect')) {
      res.writeHead(302, { location: `http://127.0.0.3:${hidden.port}/admin` }).end();
    } else res.writeHead(path.startsWith('/metrics') ? 200 : 204).end();
  });
  t = await startTestApp({
    LOG_LEVEL: 'warn',
    ALERT_EVAL_INTERVAL_MS: '1000',
    OUTBOUND_DNS_SERVERS: dns.server,
    OUTBOUND_ALLOW_ALERT_WEBHOOK: '127.0.0.2/32',
    OUTBOUND_ALLOW_DEPLOYMENT_WEBHOOK: '127.0.0.2/32',
    OUTBOUND_ALLOW_KUBERNETES: '127.0.0.2/32',
    OUTBOUND_ALLOW_METRICS: '127.0.0.2/32',
  });
  client = createClient({
    url: 'http://platform.test',
    headers: t.admin,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(input, init)) as typeof fetch,
  });
});

afterAll(async () => {
  await t?.close();
  await Promise.all([stop(internal), stop(allowed), stop(hidden)]);
  await dns?.close();
  const refused = outcomes.filter((o) => o.refused).length;
  console.log(`SSRF corpus: ${refused} of ${outcomes.length} refused`);
});

// --- The inputs ---------------------------------------------------------------------------------------

const okWebhook = () => `http://127.0.0.2:${allowed.port}/ok`;

/** Each URL-taking input: how to submit a URL to it. */
const inputs: Record<
  string,
  (url: string, service: string) => Promise<{ kind: 'webhook' | 'deployment'; id: string }>
> = {
  'alert webhook url': async (url) => {
    const created = await client.performance.alerts.webhooks.create.mutate({ name: 'ssrf', url });
    return { kind: 'webhook', id: created.id };
  },
  'deployment webhook provider url': async (url, service) =>
    deployment(service, { kind: 'webhook', config: { url, secret: SECRET, timeoutMs: 2_000, retries: 0 } }),
  'kubernetes provider apiUrl': async (url, service) =>
    deployment(service, {
      kind: 'kubernetes',
      config: {
        apiUrl: url,
        token: 'ssrf-test-token',
        namespace: 'shop',
        name: service,
        mode: 'deployment',
        timeoutMs: 2_000,
      },
    }),
  'deployment metricsTargets': async (url, service) =>
    deployment(
      service,
      { kind: 'webhook', config: { url: okWebhook(), secret: SECRET, metricsTargets: [url], retries: 0 } },
      [
        {
          analysis: {
            metrics: [{ name: 'up', query: 'up', successCondition: { op: '>', value: 0 } }],
            intervalSeconds: 0.1,
            count: 1,
          },
        },
      ],
    ),
};

async function deployment(
  service: string,
  provider: { kind: string; config: Record<string, unknown> },
  steps: unknown[] = [{ setWeight: 50 }],
): Promise<{ kind: 'deployment'; id: string }> {
  const created = await client.devops.deployments.create.mutate({
    service,
    environment: 'staging',
    version: '1.1.0',
    stableVersion: '1.0.0',
    spec: { strategy: 'canary', steps },
    provider,
  } as Parameters<typeof client.devops.deployments.create.mutate>[0]);
  return { kind: 'deployment', id: created.id };
}

/** Waits for the first failure the server recorded for what `submitted` created, in our words. */
async function failureAtUse(submitted: { kind: 'webhook' | 'deployment'; id: string }): Promise<string> {
  if (submitted.kind === 'webhook') {
    // A rule that starts firing now (db_up: the database is up) notifies every webhook of the
    // organization, this one included.
    await client.performance.alerts.create.mutate({
      name: `SsrfProbe_${submitted.id.slice(0, 8)}`,
      expression: 'db_up',
      comparator: '>',
      threshold: 0,
      forSeconds: 0,
      severity: 'info',
    });
    return eventually(
      'the notification to the webhook to fail',
      async () => {
        const row = await t.deps.database.db
          .selectFrom('alert_notifications')
          .select('last_error')
          .where('webhook_id', '=', submitted.id)
          .where('last_error', 'is not', null)
          .executeTakeFirst();
        return row?.last_error ?? undefined;
      },
      20_000,
    );
  }
  const event = await eventually(
    'the deployment to record a failed provider call or measurement',
    async () => {
      const d = await client.devops.deployments.get.query({ id: submitted.id });
      return d.events.find(
        (e) => e.type === 'provider_error' || (e.type === 'measurement' && e.details.phase === 'error'),
      );
    },
    20_000,
  );
  await client.devops.deployments.abort.mutate({ id: submitted.id }).catch(() => undefined);
  return JSON.stringify(event.details);
}

// --- The corpus ---------------------------------------------------------------------------------------

describe('SSRF corpus against every URL-taking input', () => {
  let serial = 0;

  for (const [input, submit] of Object.entries(inputs)) {
    describe(input, () => {
      it('refuses every internal spelling when it is given', async () => {
        for (const [entry, authority] of staticCorpus()) {
          const path = input === 'deployment metricsTargets' ? '/metrics' : '/hook';
          const refusal = await refusalOf(submit(`http://${authority}${path}`, `svc-${++serial}`));
          const refused =
            refusal?.code === 'BAD_REQUEST' && refusal.message.includes('destination_not_allowed');
          record(input, entry, refusal?.message ?? 'accepted', refused);
        }
        expect(internal.paths).toEqual([]);
      });

      it('refuses a DNS name resolving to loopback when it is used, saying so', async () => {
        const path = input === 'deployment metricsTargets' ? '/metrics' : '/hook';
        const submitted = await submit(`http://${REBIND_NAME}:${internal.port}${path}`, `svc-${++serial}`);
        const reason = await failureAtUse(submitted);
        record(input, 'DNS name resolving to 127.0.0.1', reason, reason.includes('destination_not_allowed'));
        expect(dns.questions).toContain(`${REBIND_NAME} A`);
        expect(internal.paths).toEqual([]);
      });

      it('follows no redirect to loopback from an allowed receiver', async () => {
        const before = allowed.paths.length;
        const url = `http://127.0.0.2:${allowed.port}/redirect${input === 'deployment metricsTargets' ? '/metrics' : ''}`;
        const submitted = await submit(url, `svc-${++serial}`);
        const reason = await failureAtUse(submitted);
        record(input, 'redirect to 127.0.0.3', reason, /answered 302|: 302/.test(reason));
        expect(allowed.paths.slice(before).some((p) => p.startsWith('/redirect'))).toBe(true);
        expect(hidden.paths).toEqual([]);
      });
    });
  }

  it('showed nothing of the internal servers’ answers anywhere', () => {
    for (const outcome of outcomes) expect(outcome.reason).not.toContain('internal secrets');
    expect(internal.paths).toEqual([]);
    expect(hidden.paths).toEqual([]);
  });
});
