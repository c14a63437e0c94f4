import { lookup, Resolver } from 'node:dns/promises';
import { OutboundRefusedError } from './errors';

/**
 * Every address a host name has. With `servers` (OUTBOUND_DNS_SERVERS) the A and AAAA records are
 * asked of those servers directly; otherwise of the system resolver (`dns.lookup`: /etc/hosts,
 * then DNS), as any other client on the machine would. `localhost` and its subdomains are
 * loopback by definition (RFC 6761 section 6.3) and are never asked of anyone.
 */
export async function resolveHost(
  host: string,
  servers: readonly string[],
  timeoutMs: number,
): Promise<string[]> {
  if (host === 'localhost' || host.endsWith('.localhost')) return ['127.0.0.1', '::1'];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let resolver: Resolver | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      resolver?.cancel();
      reject(new OutboundRefusedError('timeout', `no DNS answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    let answers: string[];
    if (servers.length > 0) {
      resolver = new Resolver({ timeout: Math.max(1, Math.min(timeoutMs, 5_000)), tries: 2 });
      resolver.setServers([...servers]);
      answers = await Promise.race([askServers(resolver), timeout]);
    } else {
      const found = await Promise.race([lookup(host, { all: true, verbatim: true }), timeout]);
      answers = found.map((a) => a.address);
    }
    if (answers.length === 0) throw new OutboundRefusedError('dns_failed', 'the host name has no address');
    return answers;
  } catch (error) {
    if (error instanceof OutboundRefusedError) throw error;
    // The resolver's own message names the servers and the record: ours says only what failed.
    throw new OutboundRefusedError('dns_failed', 'the host name could not be resolved');
  } finally {
    clearTimeout(timer);
  }

  async function askServers(r: Resolver): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([r.resolve4(host), r.resolve6(host)]);
    const found = [
      ...(v4.status === 'fulfilled' ? v4.value : []),
      ...(v6.status === 'fulfilled' ? v6.value : []),
    ];
    // One family missing is normal (ENODATA); both failing is a failure.
    if (found.length === 0 && v4.status === 'rejected') throw v4.reason;
    return found;
  }
}
