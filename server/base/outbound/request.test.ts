import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../../../tests/helpers/dns-server';
import { OutboundRefusedError } from './errors';
import { createOutboundPolicy } from './policy';
import { outboundRequest } from './request';

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local HTTP server running `handle` after recording each request it receives. */
async function startServer(handle: (req: Seen, res: import('node:http').ServerResponse) => void) {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const request = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
      seen.push(request);
      handle(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
type TestServer = Awaited<ReturnType<typeof startServer>>;

async function failureOf(promise: Promise<unknown>): Promise<OutboundRefusedError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundRefusedError);
  return error as OutboundRefusedError;
}

const servers: TestServer[] = [];
const started = async (handle: Parameters<typeof startServer>[0]) => {
  const server = await startServer(handle);
  servers.push(server);
  return server;
};
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

let dns: TestDnsServer;
beforeAll(async () => {
  dns = await startDnsServer({ 'pinned.test': ['127.0.0.1'], 'two.test': ['127.0.0.1', '10.0.0.1'] });
});
afterAll(() => dns?.close());

// The test servers listen on loopback: allowed here, as an operator would allow a receiver.
const loopback = () =>
  createOutboundPolicy({ allow: { metrics: ['127.0.0.0/8'] }, dnsServers: [dns.server] });

describe('outboundRequest', () => {
  it('sends the request and returns status, headers and body for the server to parse', async () => {
    const server = await started((_, res) => res.writeHead(201, { 'x-answer': 'yes' }).end('{"ok":true}'));
    const response = await outboundRequest(`${server.url}/api?q=1`, 'metrics', loopback(), {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
      timeoutMs: 2_000,
    });
    expect(response.status).toBe(201);
    expect(response.headers['x-answer']).toBe('yes');
    expect(JSON.parse(response.body.toString('utf8'))).toEqual({ ok: true });
    expect(server.seen).toMatchObject([{ method: 'POST', path: '/api?q=1', body: '{"a":1}' }]);
  });

  it('refuses a loopback destination when nothing allows it, and sends nothing', async () => {
    const server = await started((_, res) => res.end('secret'));
    const error = await failureOf(
      outboundRequest(server.url, 'alert_webhook', loopback(), { timeoutMs: 2_000 }),
    );
    expect(error.code).toBe('destination_not_allowed');
    expect(server.seen).toHaveLength(0);
  });

  it('follows no redirect: a 302 is a status, and where it points receives nothing', async () => {
    const elsewhere = await started((_, res) => res.end('internal'));
    const redirecting = await started((_, res) =>
      res.writeHead(302, { location: `${elsewhere.url}/admin` }).end(),
    );
    const response = await outboundRequest(redirecting.url, 'metrics', loopback(), { timeoutMs: 2_000 });
    expect(response.status).toBe(302);
    expect(redirecting.seen).toHaveLength(1);
    expect(elsewhere.seen).toHaveLength(0);
  });

  it('resolves a name once and connects to the address it checked, with the name as Host', async () => {
    const server = await started((_, res) => res.end('ok'));
    const before = dns.questions.filter((q) => q === 'pinned.test A').length;
    const response = await outboundRequest(`http://pinned.test:${server.port}/x`, 'metrics', loopback(), {
      timeoutMs: 2_000,
    });
    expect(response.status).toBe(200);
    // One A question: the connection used that answer (the system resolver does not know the name).
    expect(dns.questions.filter((q) => q === 'pinned.test A').length - before).toBe(1);
    expect(server.seen[0]?.headers.host).toBe(`pinned.test:${server.port}`);
  });

  it('refuses a name with one allowed and one refused address', async () => {
    const server = await started((_, res) => res.end('ok'));
    const error = await failureOf(
      outboundRequest(`http://two.test:${server.port}/`, 'metrics', loopback(), { timeoutMs: 2_000 }),
    );
    expect(error.code).toBe('destination_not_allowed');
    expect(server.seen).toHaveLength(0);
  });

  it('bounds the body: past maxBytes the answer is abandoned, announced or streamed', async () => {
    const big = 'x'.repeat(300_000);
    const announced = await started((_, res) =>
      res.writeHead(200, { 'content-length': big.length }).end(big),
    );
    const streamed = await started((_, res) => {
      res.writeHead(200);
      for (let i = 0; i < 10; i++) res.write(big);
      res.end();
    });
    for (const server of [announced, streamed]) {
      const error = await failureOf(
        outboundRequest(server.url, 'metrics', loopback(), { timeoutMs: 5_000, maxBytes: 100_000 }),
      );
      expect(error.code).toBe('too_large');
      expect(error.message).toBe('too_large: the answer is larger than 100000 bytes');
    }
    // Under the default bound of 1 MiB.
    const fits = await outboundRequest(announced.url, 'metrics', loopback(), { timeoutMs: 5_000 });
    expect(fits.body.length).toBe(big.length);
  });

  it('bounds the whole exchange in time: a server that never answers, or answers forever', async () => {
    const silent = await started(() => undefined);
    const trickling = await started((_, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('x'), 20);
      res.on('close', () => clearInterval(timer));
    });
    for (const server of [silent, trickling]) {
      const error = await failureOf(outboundRequest(server.url, 'metrics', loopback(), { timeoutMs: 300 }));
      expect(error.message).toBe('timeout: no answer within 300 ms');
    }
  });

  it('bounds DNS by the same timeout: a DNS server that never answers', async () => {
    const mute: Socket = createSocket('udp4');
    await new Promise<void>((resolve) => mute.bind(0, '127.0.0.1', resolve));
    try {
      const policy = createOutboundPolicy({
        dnsServers: [`127.0.0.1:${(mute.address() as AddressInfo).port}`],
      });
      const error = await failureOf(
        outboundRequest('http://slow.test/', 'metrics', policy, { timeoutMs: 300 }),
      );
      expect(error.message).toBe('timeout: no DNS answer within 300 ms');
    } finally {
      mute.close();
    }
  });

  it('fails in its own words, never the peer’s or the driver’s', async () => {
    const closed = await startServer(() => undefined);
    await closed.close();
    const refused = await failureOf(outboundRequest(closed.url, 'metrics', loopback(), { timeoutMs: 2_000 }));
    expect(refused.message).toBe('connection_failed: the connection was refused');
    expect(refused.message).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);

    const hangsUp = await started((_, res) => res.socket?.destroy());
    const reset = await failureOf(outboundRequest(hangsUp.url, 'metrics', loopback(), { timeoutMs: 2_000 }));
    expect(reset.code).toBe('connection_failed');
    expect(reset.message).not.toMatch(/socket hang up|ECONNRESET/);
  });
});
