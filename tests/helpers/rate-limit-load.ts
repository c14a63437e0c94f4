import type { RateLimitDecision, RateLimitPolicy } from '../../server/base/rate-limit/gcra';
import type { RateLimitStore } from '../../server/base/rate-limit/store';

/** Every store runs `consumers` concurrent loops of `perConsumer` consumes on one key. */
export async function hammer(
  stores: readonly RateLimitStore[],
  key: string,
  policy: RateLimitPolicy,
  now: () => number | undefined,
): Promise<RateLimitDecision[]> {
  const consumers = 20;
  const perConsumer = 10;
  const decisions = await Promise.all(
    stores.flatMap((store) =>
      Array.from({ length: consumers }, async () => {
        const mine: RateLimitDecision[] = [];
        for (let i = 0; i < perConsumer; i++) mine.push(await store.consume(key, policy, 1, now()));
        return mine;
      }),
    ),
  );
  return decisions.flat();
}

/**
 * Offers `load` × the limit, evenly spaced, for `windows` periods of simulated time, spreading
 * the requests over the instances `store(i)` picks. The most any limiter true to the policy may
 * admit is one burst plus `limit` per period, and never more than was offered.
 */
export async function offer(
  store: (i: number) => RateLimitStore,
  key: string,
  policy: RateLimitPolicy,
  load: number,
) {
  const windows = 20;
  const start = 1_800_000_000_000;
  const offered = Math.round(policy.limit * load * windows);
  const spacing = policy.periodMs / (policy.limit * load);
  let admitted = 0;
  for (let i = 0; i < offered; i++) {
    const decision = await store(i).consume(key, policy, 1, start + i * spacing);
    if (decision.allowed) admitted++;
  }
  const theoreticalMax = Math.min(offered, (policy.burst ?? policy.limit) + policy.limit * windows);
  return { offered, admitted, theoreticalMax, ratio: admitted / theoreticalMax };
}
