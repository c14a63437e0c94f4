import { isIP } from 'node:net';
import type { AppContext } from './env';

/**
 * The client's address, for per-address rate limits and logs.
 *
 * Without a trusted proxy it is the TCP peer, read from what the runtime passes as Hono's `env`
 * (server/composition/serve.ts hands the fetch handler straight to each): on Bun the server object,
 * whose `requestIP(request)` knows the peer (as hono/bun's getConnInfo reads it); on Node,
 * @hono/node-server's `{ incoming }`, whose socket does (as @hono/node-server/conninfo reads it).
 * Both are read here without those helpers, which throw when `env` is not theirs (`app.request()`
 * in tests, the other runtime).
 *
 * With `trustProxy`, the last X-Forwarded-For entry: the one our own proxy appended, naming the
 * peer it saw. Entries before it are whatever the client sent and prove nothing. A last entry
 * that is not an IP address is ignored in favour of the peer.
 *
 * 'unknown' when neither is available.
 */
export function clientIp(c: AppContext, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',').at(-1)?.trim();
    if (forwarded && isIP(forwarded)) return normalize(forwarded);
  }
  const peer = peerAddress(c.env, c.req.raw);
  return peer ? normalize(peer) : 'unknown';
}

interface BunServerLike {
  requestIP(request: Request): { address: string } | null;
}
interface NodeBindingsLike {
  incoming: { socket?: { remoteAddress?: string } };
}

function peerAddress(env: unknown, request: Request): string | undefined {
  if (typeof env !== 'object' || env === null) return undefined;
  // Like hono/bun's getBunServer: some setups nest the server under `server`.
  const bindings =
    'server' in env && typeof env.server === 'object' && env.server !== null ? env.server : env;
  if ('requestIP' in bindings && typeof bindings.requestIP === 'function')
    return (bindings as BunServerLike).requestIP(request)?.address ?? undefined;
  if ('incoming' in bindings)
    return (bindings as NodeBindingsLike).incoming.socket?.remoteAddress ?? undefined;
  return undefined;
}

/**
 * An IPv4 client of a dual-stack listener shows up as ::ffff:a.b.c.d; one address, one spelling,
 * so that it shares one allowance whichever way it arrived.
 */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}
