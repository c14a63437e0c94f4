import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../../../tests/helpers/dns-server';
import { checkDestination, parseOutboundUrl } from './destination';
import { OutboundRefusedError } from './errors';
import { createOutboundPolicy, type OutboundPolicy } from './policy';

/** The code of the OutboundRefusedError `run` throws (or resolves to); fails when it throws anything else. */
async function codeOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(OutboundRefusedError);
    return (error as OutboundRefusedError).code;
  }
  return 'allowed';
}

const strict = createOutboundPolicy();

// Every spelling of an internal destination a URL can carry.
const INTERNAL_URLS = [
  'http://127.0.0.1/',
  'http://127.0.0.1:5432/',
  'http://[::1]/',
  'http://0.0.0.0/',
  'http://[::]/',
  'http://169.254.169.254/latest/meta-data/',
  'http://10.0.0.1/',
  'http://172.16.0.1/',
  'http://192.168.0.1/',
  'http://100.64.0.1/',
  'http://[fc00::1]/',
  'http://[fd12:3456::1]/',
  'http://[fe80::1]/',
  'http://224.0.0.1/',
  'http://[ff02::1]/',
  'http://192.0.2.1/',
  'http://240.0.0.1/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:7f00:1]/',
  'http://[64:ff9b::7f00:1]/',
  'http://[2002:7f00:1::]/',
  'http://2130706433/',
  'http://0x7f.1/',
  'http://0177.0.0.1/',
  'http://127.1/',
  'http://localhost/',
  'http://LOCALHOST./',
  'http://foo.localhost/',
];

describe('parseOutboundUrl', () => {
  it('takes a public http(s) URL and a name it cannot judge without DNS', () => {
    expect(parseOutboundUrl('https://hooks.example.com/alerts?x=1', 'alert_webhook', strict).href).toBe(
      'https://hooks.example.com/alerts?x=1',
    );
    expect(parseOutboundUrl('http://8.8.8.8:8080/', 'metrics', strict).port).toBe('8080');
    expect(parseOutboundUrl('http://[2606:4700:4700::1111]/', 'metrics', strict).hostname).toBe(
      '[2606:4700:4700::1111]',
    );
  });

  it.each(INTERNAL_URLS)('refuses %s for every purpose', async (url) => {
    for (const purpose of ['alert_webhook', 'deployment_webhook', 'kubernetes', 'metrics'] as const) {
      expect(await codeOf(() => parseOutboundUrl(url, purpose, strict)), purpose).toBe(
        'destination_not_allowed',
      );
    }
  });

  it('refuses other schemes, credentials, long and malformed URLs, saying so in its own words', async () => {
    for (const url of [
      'ftp://example.com/',
      'file:///etc/passwd',
      'gopher://example.com/',
      'https://user:pass@example.com/',
      'https://user@example.com/',
      `https://example.com/${'a'.repeat(2_000)}`,
      'not a url',
      '//example.com/',
    ]) {
      expect(await codeOf(() => parseOutboundUrl(url, 'alert_webhook', strict)), url).toBe('bad_url');
    }
    expect(() => parseOutboundUrl('http://127.0.0.1/', 'kubernetes', strict)).toThrow(
      /^destination_not_allowed: .*OUTBOUND_ALLOW_KUBERNETES/,
    );
  });

  it('opens exactly what an allow-list names, for its purpose only', async () => {
    const policy = createOutboundPolicy({
      allow: { kubernetes: ['127.0.0.0/8', 'fd00::/8', 'api.cluster.internal'] },
      privateNetworks: { alert_webhook: true },
    });
    expect(await codeOf(() => parseOutboundUrl('http://127.0.0.2:6443/', 'kubernetes', policy))).toBe(
      'allowed',
    );
    expect(await codeOf(() => parseOutboundUrl('http://[fd00::1]/', 'kubernetes', policy))).toBe('allowed');
    expect(await codeOf(() => parseOutboundUrl('http://[::1]/', 'kubernetes', policy))).toBe(
      'destination_not_allowed',
    );
    // localhost is 127.0.0.1 and ::1: one of them is outside the list.
    expect(await codeOf(() => parseOutboundUrl('http://localhost/', 'kubernetes', policy))).toBe(
      'destination_not_allowed',
    );
    expect(await codeOf(() => parseOutboundUrl('http://127.0.0.1/', 'metrics', policy))).toBe(
      'destination_not_allowed',
    );
    // The private-networks switch opens private and loopback addresses, not cloud metadata.
    for (const url of ['http://10.1.2.3/', 'http://127.0.0.1/', 'http://localhost/', 'http://[fd12::1]/']) {
      expect(await codeOf(() => parseOutboundUrl(url, 'alert_webhook', policy)), url).toBe('allowed');
    }
    for (const url of ['http://169.254.169.254/', 'http://[fe80::1]/', 'http://[fd00:ec2::254]/']) {
      expect(await codeOf(() => parseOutboundUrl(url, 'alert_webhook', policy)), url).toBe(
        'destination_not_allowed',
      );
    }
  });

  it('refuses an allow-list entry that is neither a network nor a host name', () => {
    expect(() => createOutboundPolicy({ allow: { metrics: ['10.0.0.0/33'] } })).toThrow(
      /OUTBOUND_ALLOW_METRICS/,
    );
  });
});

describe('checkDestination', () => {
  let dns: TestDnsServer;
  let policy: OutboundPolicy;

  beforeAll(async () => {
    dns = await startDnsServer({
      'rebind.test': ['127.0.0.1'],
      'metadata.test': ['169.254.169.254'],
      'mixed.test': ['93.184.216.34', '10.0.0.5'],
      'mixed6.test': ['93.184.216.34', '::1'],
      'public.test': ['93.184.216.34', '2606:4700:4700::1111'],
      'db.internal': ['10.20.0.5'],
    });
    policy = createOutboundPolicy({ dnsServers: [dns.server] });
  });
  afterAll(() => dns?.close());

  it('returns the address to connect to: the literal, or the first of the checked answers', async () => {
    expect(await checkDestination('93.184.216.34', 'restore_target', policy)).toBe('93.184.216.34');
    expect(await checkDestination('public.test', 'restore_target', policy)).toBe('93.184.216.34');
    expect(await checkDestination('[2606:4700:4700::1111]', 'restore_target', policy)).toBe(
      '2606:4700:4700::1111',
    );
  });

  it('refuses a name that resolves to an internal address, through a real DNS server', async () => {
    for (const host of ['rebind.test', 'metadata.test', 'mixed.test', 'mixed6.test', 'db.internal']) {
      expect(await codeOf(() => checkDestination(host, 'restore_target', policy)), host).toBe(
        'destination_not_allowed',
      );
    }
    expect(dns.questions).toContain('rebind.test A');
  });

  it('reads every IPv4 spelling a database driver would, and localhost, without asking DNS', async () => {
    const asked = dns.questions.length;
    for (const host of [
      '127.0.0.1',
      '2130706433',
      '0x7f.1',
      '0177.0.0.1',
      '127.1',
      '[::1]',
      '::ffff:7f00:1',
      'localhost',
      'a.localhost',
      '0',
    ]) {
      expect(await codeOf(() => checkDestination(host, 'restore_target', policy)), host).toBe(
        'destination_not_allowed',
      );
    }
    expect(dns.questions.length).toBe(asked);
  });

  it('says dns_failed for a name that does not exist, in its own words', async () => {
    const error = await checkDestination('nowhere.test', 'restore_target', policy).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundRefusedError);
    expect((error as Error).message).toBe('dns_failed: the host name could not be resolved');
  });

  it('lets an operator allow a network or a host name for restore targets', async () => {
    const allowed = createOutboundPolicy({
      allow: { restore_target: ['10.20.0.0/16'], metrics: ['rebind.test'] },
      dnsServers: [dns.server],
    });
    expect(await checkDestination('db.internal', 'restore_target', allowed)).toBe('10.20.0.5');
    expect(await checkDestination('rebind.test', 'metrics', allowed)).toBe('127.0.0.1');
    expect(await codeOf(() => checkDestination('rebind.test', 'restore_target', allowed))).toBe(
      'destination_not_allowed',
    );
  });
});
