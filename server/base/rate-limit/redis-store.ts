import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  checkCost,
  describeDecision,
  gcraParameters,
  type RateLimitDecision,
  type RateLimitPolicy,
} from './gcra';
import type { RateLimitStore } from './store';

/**
 * GCRA in one Lua script, so that reading the TAT, deciding and writing happen atomically in
 * Redis: concurrent consumes on one key, from any instance, run one after the other.
 *
 * The arithmetic mirrors gcra() operation for operation (TAT − now, max with 0, + increment,
 * compare with the tolerance, now + that) in Lua's doubles, and every number crosses the wire
 * as a decimal string that round-trips exactly (JavaScript's shortest representation in, %.17g
 * out), so this store and the others agree to the last bit. Lua numbers returned as such would
 * be truncated to integers by Redis.
 *
 * A key is written with an expiry at its TAT (SET … PX, a PEXPIRE in the same command): once the
 * TAT has passed the key behaves exactly like an unknown one, so Redis may forget it. A refusal
 * writes nothing, keeping the expiry of the last admission.
 *
 * KEYS[1]: the key. ARGV: now in ms ('' for the Redis server's clock), increment (emission
 * interval × cost) and the tolerance (`maxAheadMs`, slack included), in ms.
 * Returns { 1 if admitted else 0, TAT after the request ('' for an unknown key), now }.
 */
const GCRA_SCRIPT = `
local now
if ARGV[1] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
else
  now = tonumber(ARGV[1])
end
local increment = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local stored = tonumber(redis.call('GET', KEYS[1]) or '')
local ahead = 0 + increment
if stored ~= nil then ahead = math.max(stored - now, 0) + increment end
if ahead <= tolerance then
  local tat = now + ahead
  local ttl = math.max(1, math.ceil(ahead))
  redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', string.format('%d', ttl))
  return { 1, string.format('%.17g', tat), string.format('%.17g', now) }
end
local tat = ''
if stored ~= nil then tat = string.format('%.17g', stored) end
return { 0, tat, string.format('%.17g', now) }
`;

const GCRA_SHA1 = createHash('sha1').update(GCRA_SCRIPT).digest('hex');

export interface RedisRateLimitStoreOptions {
  /** Prepended to every key, so rate-limit state is recognisable and cannot collide with other data. */
  keyPrefix?: string;
}

/**
 * Rate-limit state in Redis, shared by every instance. Each consume is one EVALSHA of the GCRA
 * script (EVAL when Redis answers NOSCRIPT, after a restart or SCRIPT FLUSH, which also caches
 * it again). NOSCRIPT means the script did not run, so falling back cannot charge twice; a lost
 * connection is not retried, since the script may have run. Whether to admit or refuse when the
 * store fails is the caller's policy.
 */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly keyPrefix: string;

  constructor(
    private readonly redis: Redis,
    { keyPrefix = 'rate-limit:' }: RedisRateLimitStoreOptions = {},
  ) {
    this.keyPrefix = keyPrefix;
  }

  async consume(key: string, policy: RateLimitPolicy, cost = 1, now?: number): Promise<RateLimitDecision> {
    const parameters = gcraParameters(policy);
    checkCost(cost, parameters);
    // While ioredis waits to reconnect, a command would sit in its offline queue until the next
    // attempt fails; failing at once spares every request that wait.
    if (this.redis.status === 'reconnecting' || this.redis.status === 'end')
      throw new Error(`Redis is unreachable (client ${this.redis.status})`);
    const args = [
      now === undefined ? '' : String(now),
      String(parameters.emissionIntervalMs * cost),
      String(parameters.maxAheadMs),
    ];
    const reply = await this.evaluate(this.keyPrefix + key, args);
    const [allowed, tat, at] = parseReply(reply);
    return describeDecision(tat, allowed, at, policy, cost);
  }

  private async evaluate(key: string, args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(GCRA_SHA1, 1, key, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await this.redis.eval(GCRA_SCRIPT, 1, key, ...args);
    }
  }
}

function parseReply(reply: unknown): [allowed: boolean, tat: number | null, now: number] {
  if (!Array.isArray(reply) || reply.length !== 3)
    throw new Error('unexpected reply from the rate-limit script');
  const [allowed, tat, now] = reply as [unknown, unknown, unknown];
  const parsedNow = Number(now);
  const parsedTat = tat === '' ? null : Number(tat);
  if ((allowed !== 0 && allowed !== 1) || !Number.isFinite(parsedNow) || Number.isNaN(parsedTat))
    throw new Error('unexpected reply from the rate-limit script');
  return [allowed === 1, parsedTat, parsedNow];
}

export interface RateLimitRedisClientOptions {
  /** Bound on one command, queued or sent, so that none waits for ever on a lost connection. */
  commandTimeoutMs?: number;
  /** Bound on establishing a connection. */
  connectTimeoutMs?: number;
}

/**
 * An ioredis client set up for rate limiting, where a late answer is as bad as none and a
 * repeated consume charges twice:
 * - `autoResendUnfulfilledCommands: false`: a script sent before a connection dropped may have
 *   run; ioredis would otherwise send it again after reconnecting.
 * - `maxRetriesPerRequest: 0`: commands queued while disconnected fail at the first failed
 *   reconnect instead of after twenty.
 * - `commandTimeout`: the dropped commands above are otherwise never settled.
 * - reconnect delays capped at one second, so the store is back soon after Redis is.
 * The caller must listen for 'error' (ioredis prints unhandled ones) and `quit()` it at the end.
 */
export function createRateLimitRedisClient(
  url: string,
  { commandTimeoutMs = 1_000, connectTimeoutMs = 2_000 }: RateLimitRedisClientOptions = {},
): Redis {
  return new Redis(url, {
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    retryStrategy: (attempt) => Math.min(50 * 2 ** (attempt - 1), 1_000),
  });
}
