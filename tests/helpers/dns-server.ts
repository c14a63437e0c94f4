import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { parseAddress } from '../../server/base/outbound/addresses';

/**
 * A tiny authoritative DNS server on 127.0.0.1 (UDP, RFC 1035 wire format written by hand):
 * answers A and AAAA questions for the names it is given, NODATA for the other family, NXDOMAIN
 * for any other name. Point OUTBOUND_DNS_SERVERS at `server` to make a name resolve to an
 * internal address through a real resolver, as an attacker's DNS would.
 */
export interface TestDnsServer {
  /** `127.0.0.1:<port>`, for OUTBOUND_DNS_SERVERS or `Resolver.setServers`. */
  server: string;
  /** Sets (or replaces) the addresses of a name; IPv4 and IPv6 mixed. */
  set(name: string, addresses: string[]): void;
  /** Questions received, as `<name> <A|AAAA>`, oldest first. */
  questions: string[];
  close(): Promise<void>;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

export async function startDnsServer(records: Record<string, string[]> = {}): Promise<TestDnsServer> {
  const names = new Map<string, string[]>(Object.entries(records).map(([n, a]) => [n.toLowerCase(), a]));
  const questions: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const question = readQuestion(query);
    if (!question) return;
    const { name, type, end } = question;
    questions.push(`${name} ${type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : type}`);
    const known = names.get(name);
    const rdatas: Buffer[] = [];
    for (const text of known ?? []) {
      const address = parseAddress(text);
      if (address?.family === 4 && type === TYPE_A) rdatas.push(toBytes(address.value, 4));
      if (address?.family === 6 && type === TYPE_AAAA) rdatas.push(toBytes(address.value, 16));
    }
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // the id
    // QR (an answer), RD and RA; RCODE 3 (NXDOMAIN) for a name we do not have.
    header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(rdatas.length, 6);
    const answers = rdatas.map((rdata) => {
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // a pointer to the question's name
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(1, 4); // class IN
      rr.writeUInt32BE(1, 6); // TTL 1 s: nothing should rely on a cache
      rr.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([rr, rdata]);
    });
    socket.send(Buffer.concat([header, query.subarray(12, end), ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address() as AddressInfo;
  return {
    server: `127.0.0.1:${port}`,
    set: (name, addresses) => names.set(name.toLowerCase(), addresses),
    questions,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** The first question's name (lower case), type, and where the question ends; null for a malformed query. */
function readQuestion(query: Buffer): { name: string; type: number; end: number } | null {
  if (query.length < 12 || query.readUInt16BE(4) < 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < query.length) {
    const length = query[at] as number;
    if (length === 0) break;
    if (length > 63) return null;
    labels.push(query.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  if (at + 5 > query.length) return null;
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at + 1), end: at + 5 };
}

function toBytes(value: bigint, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = length - 1, v = value; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
  return bytes;
}
