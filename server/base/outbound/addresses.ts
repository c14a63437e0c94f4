import { isIPv4, isIPv6 } from 'node:net';

/**
 * IP addresses as numbers, networks, and what kind of address one is. Written out rather than
 * left to `net.BlockList`, whose handling of IPv4-mapped IPv6 changed between Node versions:
 * here every embedding of IPv4 in IPv6 is a class of its own, refused whatever it embeds.
 */

export type AddressFamily = 4 | 6;

export interface ParsedAddress {
  family: AddressFamily;
  value: bigint;
}

export interface Network {
  family: AddressFamily;
  base: bigint;
  prefix: number;
}

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link_local'
  | 'unique_local'
  | 'multicast'
  | 'documentation'
  | 'reserved'
  | 'embedded_ipv4';

/** A canonical IPv4 or IPv6 address (as `net.isIP` accepts it; an IPv6 zone is ignored); else null. */
export function parseAddress(text: string): ParsedAddress | null {
  if (isIPv4(text)) return { family: 4, value: ipv4Value(text) };
  const unzoned = text.replace(/%.*$/, '');
  if (!isIPv6(unzoned)) return null;
  let groups = unzoned.toLowerCase();
  // A dotted IPv4 tail (::ffff:1.2.3.4) is two 16-bit groups.
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(groups);
  if (tail) {
    const v4 = ipv4Value(tail[1] as string);
    groups = `${groups.slice(0, -(tail[1] as string).length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', rest] = groups.split('::') as [string, string | undefined];
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const fill = rest === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  const all = [...left, ...fill, ...right];
  if (all.length !== 8) return null;
  let value = 0n;
  for (const group of all) value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  return { family: 6, value };
}

function ipv4Value(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

/** `10.0.0.0/8`, `fc00::/7`, or a single address (a /32 or /128); null when it is neither. */
export function parseNetwork(text: string): Network | null {
  const [addressText = '', prefixText, extra] = text.trim().split('/');
  if (extra !== undefined) return null;
  const address = parseAddress(addressText);
  if (!address) return null;
  const bits = address.family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return null;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) return null;
  return { family: address.family, base: address.value >> BigInt(bits - prefix), prefix };
}

export function inNetwork(address: ParsedAddress, network: Network): boolean {
  if (address.family !== network.family) return false;
  const bits = address.family === 4 ? 32 : 128;
  return address.value >> BigInt(bits - network.prefix) === network.base;
}

const net = (text: string): Network => parseNetwork(text) as Network;

// IANA's IPv4 and IPv6 special-purpose address registries, most specific first.
const SPECIAL: readonly [Network, AddressClass][] = (
  [
    ['0.0.0.0/32', 'unspecified'],
    ['0.0.0.0/8', 'reserved'],
    ['10.0.0.0/8', 'private'],
    ['100.64.0.0/10', 'shared'],
    ['127.0.0.0/8', 'loopback'],
    ['169.254.0.0/16', 'link_local'],
    ['172.16.0.0/12', 'private'],
    ['192.0.0.0/24', 'reserved'],
    ['192.0.2.0/24', 'documentation'],
    ['192.88.99.0/24', 'reserved'],
    ['192.168.0.0/16', 'private'],
    ['198.18.0.0/15', 'reserved'],
    ['198.51.100.0/24', 'documentation'],
    ['203.0.113.0/24', 'documentation'],
    ['224.0.0.0/4', 'multicast'],
    ['240.0.0.0/4', 'reserved'],
    ['::/128', 'unspecified'],
    ['::1/128', 'loopback'],
    // IPv4-mapped, IPv4-compatible, IPv4-translated (SIIT), NAT64, Teredo and 6to4: an IPv6
    // address that reaches an IPv4 one, possibly an internal one.
    ['::ffff:0:0/96', 'embedded_ipv4'],
    ['::/96', 'embedded_ipv4'],
    ['::ffff:0:0:0/96', 'embedded_ipv4'],
    ['64:ff9b::/96', 'embedded_ipv4'],
    ['64:ff9b:1::/48', 'embedded_ipv4'],
    ['2001::/32', 'embedded_ipv4'],
    ['2002::/16', 'embedded_ipv4'],
    ['100::/64', 'reserved'],
    ['2001:db8::/32', 'documentation'],
    ['3fff::/20', 'documentation'],
    ['2001::/23', 'reserved'],
    ['fc00::/7', 'unique_local'],
    ['fe80::/10', 'link_local'],
    ['fec0::/10', 'reserved'],
    ['ff00::/8', 'multicast'],
  ] as const
).map(([text, kind]) => [net(text), kind]);

// Only 2000::/3 is allocated as global unicast; everything else in IPv6 is not the internet.
const GLOBAL_UNICAST = net('2000::/3');

/** What kind of address `address` is; 'public' only for the public internet. */
export function classifyAddress(address: ParsedAddress): AddressClass {
  for (const [network, kind] of SPECIAL) if (inNetwork(address, network)) return kind;
  if (address.family === 6 && !inNetwork(address, GLOBAL_UNICAST)) return 'reserved';
  return 'public';
}

/** Whether a textual address is on the public internet (anything unparseable is not). */
export function isPublicAddress(text: string): boolean {
  const address = parseAddress(text);
  return address !== null && classifyAddress(address) === 'public';
}

/**
 * The IPv4 address an inet_aton-style spelling stands for (`2130706433`, `0x7f.1`, `0177.0.0.1`,
 * `127.1`): what getaddrinfo and many clients accept for a host. Null when `text` is not one.
 * WHATWG URLs already normalise these; a host given outside a URL (a database host) may not be.
 */
export function normaliseIPv4Spelling(text: string): string | null {
  const parts = text.split('.');
  if (parts.length > 4 || parts.some((p) => !/^(0x[0-9a-f]*|0[0-7]*|[1-9]\d*)$/i.test(p))) return null;
  const numbers = parts.map((p) =>
    /^0x/i.test(p)
      ? Number.parseInt(p.slice(2) || '0', 16)
      : /^0\d/.test(p)
        ? Number.parseInt(p, 8)
        : Number(p),
  );
  const last = numbers.pop() as number;
  if (numbers.some((n) => n > 255)) return null;
  const lastBytes = 4 - numbers.length;
  if (last >= 256 ** lastBytes) return null;
  const value = numbers.reduce((acc, n, i) => acc + n * 256 ** (3 - i), 0) + last;
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}
