import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { serve } from '../../server/composition/serve';
import { clientIp } from '../../server/http/client-ip';
import type { AppEnv } from '../../server/http/env';
import { mustRun, ROOT } from '../helpers/server-process';

function appTrustingProxy(trustProxy: boolean) {
  const app = new Hono<AppEnv>();
  app.get('/ip', (c) => c.text(clientIp(c, trustProxy)));
  return app;
}

async function ipFor(trustProxy: boolean, forwardedFor: string | undefined): Promise<string> {
  const headers: Record<string, string> =
    forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor };
  const res = await appTrustingProxy(trustProxy).request('/ip', { headers });
  return res.text();
}

describe('clientIp', () => {
  it('takes the last X-Forwarded-For entry, the one our proxy appended, when the proxy is trusted', async () => {
    expect(await ipFor(true, '198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
    expect(await ipFor(true, '203.0.113.9')).toBe('203.0.113.9');
    expect(await ipFor(true, '10.0.0.1,2001:db8::7')).toBe('2001:db8::7');
    expect(await ipFor(true, '::ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it('ignores X-Forwarded-For without a trusted proxy, and a last entry that is no address', async () => {
    // app.request() has no socket: the peer is unknown.
    expect(await ipFor(false, '203.0.113.9')).toBe('unknown');
    expect(await ipFor(true, '203.0.113.9, not-an-address')).toBe('unknown');
    expect(await ipFor(true, '')).toBe('unknown');
    expect(await ipFor(true, undefined)).toBe('unknown');
  });

  it('reads the TCP peer on Node, whatever X-Forwarded-For claims', async () => {
    const server = await serve(appTrustingProxy(false).fetch, {
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 1_024,
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/ip`, {
        headers: { 'x-forwarded-for': '192.0.2.1' },
      });
      expect(await res.text()).toBe('127.0.0.1');
    } finally {
      await server.close();
    }
  });

  it.runIf(mustRun('bun'))('reads the TCP peer on Bun, whatever X-Forwarded-For claims', () => {
    const script = `
      import { Hono } from 'hono';
      import { clientIp } from './server/http/client-ip.ts';
      import { serve } from './server/composition/serve.ts';
      const app = new Hono();
      app.get('/ip', (c) => c.text(clientIp(c, false)));
      const server = await serve(app.fetch, { host: '127.0.0.1', port: 0, maxBodyBytes: 1024 });
      const res = await fetch('http://127.0.0.1:' + server.port + '/ip', { headers: { 'x-forwarded-for': '192.0.2.1' } });
      console.log(JSON.stringify({ runtime: typeof Bun, ip: await res.text() }));
      await server.close();
    `;
    const result = spawnSync(join(ROOT, 'node_modules/.bin/bun'), ['-e', script], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ runtime: 'object', ip: '127.0.0.1' });
  });
});
