import { describe, expect, it } from 'vitest';
import { gcra, type RateLimitPolicy } from './gcra';

const tenPerSecond: RateLimitPolicy = { limit: 10, periodMs: 1_000 };

/** Offers `count` requests at the given times, carrying the TAT along; returns the admitted times. */
function run(times: number[], policy: RateLimitPolicy, cost = 1) {
  let tat: number | null = null;
  const admitted: number[] = [];
  for (const now of times) {
    const result = gcra(tat, now, policy, cost);
    tat = result.newTat;
    if (result.decision.allowed) admitted.push(now);
  }
  return admitted;
}

describe('gcra', () => {
  it('admits a full burst from an idle key and refuses the next request', () => {
    const admitted = run(Array(11).fill(0), tenPerSecond);
    expect(admitted).toHaveLength(10);
    const next = gcra(10 * 100, 0, tenPerSecond);
    expect(next.decision).toEqual({
      allowed: false,
      limit: 10,
      remaining: 0,
      resetMs: 1_000,
      retryAfterMs: 100,
    });
    expect(next.newTat).toBe(1_000);
  });

  it('gives no second burst at a window edge: after a burst only the refill is admitted', () => {
    // A fixed window would admit 10 at 999 ms and 10 more at 1000 ms; GCRA spends the first
    // burst's debt, so just after it only what one emission interval refilled gets through.
    let tat: number | null = null;
    let admittedAtEdge = 0;
    for (const now of [...Array(10).fill(999), ...Array(10).fill(1_000)]) {
      const result = gcra(tat, now, tenPerSecond);
      tat = result.newTat;
      if (result.decision.allowed && now === 1_000) admittedAtEdge++;
    }
    expect(admittedAtEdge).toBe(0);
    // In any stretch of one period a client gets at most the burst plus what the period refills.
    const everyMs = Array.from({ length: 3_000 }, (_, i) => i);
    const admitted = run(everyMs, tenPerSecond);
    for (let start = 0; start < 2_000; start += 50) {
      const inWindow = admitted.filter((t) => t >= start && t < start + 1_000).length;
      expect(inWindow).toBeLessThanOrEqual(20);
    }
    expect(admitted.filter((t) => t >= 1_000 && t < 2_000)).toHaveLength(10);
  });

  it('admits a steady stream at exactly the limit, forever', () => {
    const times = Array.from({ length: 10_000 }, (_, i) => i * 100);
    expect(run(times, { ...tenPerSecond, burst: 1 })).toHaveLength(10_000);
  });

  it('holds a stream at twice the limit to the limit plus one burst', () => {
    const times = Array.from({ length: 2_000 }, (_, i) => i * 50);
    const admitted = run(times, tenPerSecond);
    // 100 s at 10 per second, plus the 10 of the initial burst: 1010 at most, and no fewer than
    // the refill alone.
    expect(admitted.length).toBeGreaterThanOrEqual(1_000);
    expect(admitted.length).toBeLessThanOrEqual(1_010);
  });

  it('charges a cost above one as that many requests', () => {
    const first = gcra(null, 0, tenPerSecond, 4);
    expect(first.decision).toMatchObject({ allowed: true, remaining: 6, resetMs: 400 });
    const second = gcra(first.newTat, 0, tenPerSecond, 4);
    expect(second.decision).toMatchObject({ allowed: true, remaining: 2 });
    const third = gcra(second.newTat, 0, tenPerSecond, 4);
    // Two left is not enough for four; the refusal costs nothing and says when four will fit.
    expect(third.decision).toMatchObject({ allowed: false, remaining: 2, retryAfterMs: 200 });
    expect(third.newTat).toBe(second.newTat);
    expect(gcra(third.newTat, 200, tenPerSecond, 4).decision.allowed).toBe(true);
  });

  it('reports remaining and reset so a client can pace itself', () => {
    const { newTat } = gcra(null, 0, tenPerSecond, 3);
    const later = gcra(newTat, 150, tenPerSecond);
    // 300 ms of debt at 0, 150 ms of it repaid, 100 ms added: 250 ms ahead, room for 7 more.
    expect(later.decision).toEqual({ allowed: true, limit: 10, remaining: 7, resetMs: 250, retryAfterMs: 0 });
  });

  describe('at epoch-scale times, with an emission interval that is not a whole number of ms', () => {
    // 1000/7 ms: sums of such intervals added to ~1.8e12 ms round to 2^-12 ms, which once refused
    // every request spending exactly the burst and reported one request too few remaining.
    const sevenPerSecond: RateLimitPolicy = { limit: 7, periodMs: 1_000, burst: 3 };
    /** 10,000 instants from 2023 to 2039, whole and fractional milliseconds alike. */
    const epochTimes = Array.from(
      { length: 10_000 },
      (_, i) => 1_700_000_000_000 + i * 52_361_071 + (i % 2 === 0 ? 0 : (i % 997) / 997),
    );

    it('admits a request spending exactly the burst on an idle key, every time', () => {
      const refused = epochTimes.filter((now) => !gcra(null, now, sevenPerSecond, 3).decision.allowed);
      expect(refused).toEqual([]);
      for (const now of epochTimes.slice(0, 100))
        expect(gcra(null, now, sevenPerSecond, 3).decision).toEqual({
          allowed: true,
          limit: 7,
          remaining: 0,
          resetMs: 429,
          retryAfterMs: 0,
        });
    });

    it('admits a whole burst of single requests at one instant, counting remaining down exactly', () => {
      for (const now of epochTimes) {
        let tat: number | null = null;
        const decisions = [];
        for (let i = 0; i < 4; i++) {
          const result = gcra(tat, now, sevenPerSecond);
          tat = result.newTat;
          decisions.push(result.decision);
        }
        expect(decisions.map((d) => [d.allowed, d.remaining, d.retryAfterMs])).toEqual([
          [true, 2, 0],
          [true, 1, 0],
          [true, 0, 0],
          [false, 0, 143],
        ]);
      }
    });

    it('admits exactly the burst at one instant, no fewer and no more, whatever the interval', () => {
      const policies: RateLimitPolicy[] = [
        sevenPerSecond,
        { limit: 13, periodMs: 1_000 },
        { limit: 3, periodMs: 10_000 },
        { limit: 7, periodMs: 60_000 },
        { limit: 70, periodMs: 60_000 },
        { limit: 600, periodMs: 60_000, burst: 120 },
      ];
      for (const policy of policies) {
        const burst = policy.burst ?? policy.limit;
        for (const now of epochTimes.slice(0, 200)) {
          let tat: number | null = null;
          let admitted = 0;
          for (let i = 0; i <= burst; i++) {
            const result = gcra(tat, now, policy);
            tat = result.newTat;
            if (result.decision.allowed) admitted++;
          }
          expect({ policy, now, admitted }).toEqual({ policy, now, admitted: burst });
        }
      }
    });
  });

  it('treats a key whose TAT has passed like an unknown key', () => {
    expect(gcra(500, 10_000, tenPerSecond)).toEqual(gcra(null, 10_000, tenPerSecond));
  });

  it('rejects policies and costs that could never be honoured', () => {
    expect(() => gcra(null, 0, { limit: 0, periodMs: 1_000 })).toThrow(RangeError);
    expect(() => gcra(null, 0, { limit: 10, periodMs: 0 })).toThrow(RangeError);
    expect(() => gcra(null, 0, { limit: 10, periodMs: 1_000, burst: 0 })).toThrow(RangeError);
    expect(() => gcra(null, 0, tenPerSecond, 0)).toThrow(RangeError);
    expect(() => gcra(null, 0, tenPerSecond, 1.5)).toThrow(RangeError);
    expect(() => gcra(null, 0, tenPerSecond, 11)).toThrow(/exceeds the burst/);
  });
});
