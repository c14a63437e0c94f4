import { normaliseIPv4Spelling, type ParsedAddress, parseAddress } from './addresses';
import { OutboundRefusedError } from './errors';
import {
  addressAllowed,
  allowListSetting,
  hostAllowed,
  type OutboundPolicy,
  type OutboundPurpose,
} from './policy';
import { resolveHost } from './resolve';

/** Longer URLs are refused before anything else: no receiver needs one, and they end up in logs. */
export const MAX_OUTBOUND_URL_LENGTH = 2_000;
const DEFAULT_DNS_TIMEOUT_MS = 5_000;

/**
 * Checks what can be checked without DNS: an http(s) URL without credentials, whose host, when it
 * is an address or `localhost`, is one the purpose may reach. Use it to refuse a URL when it is
 * given; `outboundRequest` checks again, with DNS, every time it is used.
 */
export function parseOutboundUrl(text: string | URL, purpose: OutboundPurpose, policy: OutboundPolicy): URL {
  const url = toUrl(text);
  const host = hostOf(url);
  if (!hostAllowed(host, purpose, policy)) {
    const literal = literalAddresses(host);
    if (literal) refuseUnlessAllowed(literal, purpose, policy);
  }
  return url;
}

/**
 * The address to connect to for `host` (a name or an address, as given to a database driver, say),
 * after checking that it, and every other address the name resolves to, may be reached for
 * `purpose`. Connect to the returned address, not to `host` again: a second resolution could
 * answer differently (DNS rebinding).
 */
export async function checkDestination(
  host: string,
  purpose: OutboundPurpose,
  policy: OutboundPolicy,
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const name = host
    .trim()
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase()
    .replace(/\.$/, '');
  if (name === '') throw new OutboundRefusedError('bad_url', 'the host is empty');
  const vouched = hostAllowed(name, purpose, policy);
  const literal = literalAddresses(name);
  const answers = literal
    ? parseAddress(name)
      ? [name]
      : literal.map(textOf)
    : await resolveHost(name, policy.dnsServers, options.timeoutMs ?? DEFAULT_DNS_TIMEOUT_MS);
  const parsed = answers.map((answer) => parseAddress(answer));
  if (parsed.some((address) => address === null)) {
    throw new OutboundRefusedError(
      'dns_failed',
      'the host name resolved to something that is not an address',
    );
  }
  if (!vouched) refuseUnlessAllowed(parsed as ParsedAddress[], purpose, policy);
  return answers[0] as string;
}

/** The URL's host without IPv6 brackets, lower case. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

function toUrl(text: string | URL): URL {
  const raw = typeof text === 'string' ? text : text.href;
  if (raw.length > MAX_OUTBOUND_URL_LENGTH) {
    throw new OutboundRefusedError('bad_url', `the URL is longer than ${MAX_OUTBOUND_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundRefusedError('bad_url', 'the URL is not a valid absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new OutboundRefusedError('bad_url', 'the URL must be http or https');
  }
  if (url.username || url.password) {
    throw new OutboundRefusedError('bad_url', 'the URL must not carry credentials');
  }
  if (url.hostname === '') throw new OutboundRefusedError('bad_url', 'the URL has no host');
  return url;
}

/** The addresses a host stands for without asking DNS: a literal, an odd IPv4 spelling, localhost. */
function literalAddresses(host: string): ParsedAddress[] | null {
  const name = host.replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    return [parseAddress('127.0.0.1'), parseAddress('::1')] as ParsedAddress[];
  }
  const address = parseAddress(name) ?? parseAddress(normaliseIPv4Spelling(name) ?? '');
  return address ? [address] : null;
}

function refuseUnlessAllowed(
  addresses: ParsedAddress[],
  purpose: OutboundPurpose,
  policy: OutboundPolicy,
): void {
  // All of them: a name with one public and one private address is refused, not half-trusted.
  if (addresses.every((address) => addressAllowed(address, purpose, policy))) return;
  throw new OutboundRefusedError(
    'destination_not_allowed',
    `the host is or resolves to a loopback, private, link-local or reserved address (an operator can allow it with ${allowListSetting(purpose)})`,
  );
}

function textOf(address: ParsedAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n)
    groups.push(((address.value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}
