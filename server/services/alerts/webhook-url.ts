import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Webhook URLs are given by organization admins and fetched by the server, which makes them a
 * server-side request forgery vector (cloud metadata at 169.254.169.254, the database, admin
 * ports on localhost). Unless private networks are allowed (ALERT_WEBHOOK_ALLOW_PRIVATE, for a
 * receiver on the same network), a URL must resolve only to public addresses, and the request
 * goes to the address that was checked, so a DNS answer that changes in between (rebinding)
 * cannot redirect it. Redirects are never followed.
 */

export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
}

export const MAX_WEBHOOK_URL_LENGTH = 2_000;

// IANA special-purpose registries: everything that is not the public internet.
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001::', 23],
  ['2001:db8::', 32],
  ['2002::', 16],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  PRIVATE.addSubnet(net, prefix, 'ipv6');
}

/** Whether an address is on the public internet (IPv4-mapped IPv6 is judged as the IPv4 it maps). */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return !PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export interface WebhookUrlPolicy {
  allowPrivateNetworks: boolean;
}

/** Checks what can be checked without DNS: scheme, credentials, literal and local hosts. */
export function parseWebhookUrl(text: string, policy: WebhookUrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new WebhookUrlError('the webhook URL is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WebhookUrlError('the webhook URL must be http or https');
  }
  if (url.username || url.password) {
    throw new WebhookUrlError('the webhook URL must not carry credentials; deliveries are signed instead');
  }
  const host = hostOf(url);
  if (!policy.allowPrivateNetworks) {
    const literal = isIP(host) !== 0;
    if ((literal && !isPublicAddress(host)) || host === 'localhost' || host.endsWith('.localhost')) {
      throw new WebhookUrlError('the webhook URL points to a private or local address');
    }
  }
  return url;
}

/**
 * The address to connect to: the literal one, or what DNS answers. Every answer must be public
 * (a name with one public and one private address is refused, not half-trusted).
 */
export async function resolveWebhookAddress(
  url: URL,
  policy: WebhookUrlPolicy,
  timeoutMs: number,
): Promise<string> {
  const host = hostOf(url);
  if (isIP(host) !== 0) {
    if (!policy.allowPrivateNetworks && !isPublicAddress(host)) {
      throw new WebhookUrlError('the webhook URL points to a private or local address');
    }
    return host;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WebhookUrlError(`no DNS answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const answers = await Promise.race([lookup(host, { all: true, verbatim: true }), timeout]);
    if (answers.length === 0) throw new WebhookUrlError('the webhook host has no address');
    if (!policy.allowPrivateNetworks && answers.some((a) => !isPublicAddress(a.address))) {
      throw new WebhookUrlError('the webhook host resolves to a private or local address');
    }
    return (answers[0] as { address: string }).address;
  } finally {
    clearTimeout(timer);
  }
}

/** The URL's host without IPv6 brackets. */
function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}
