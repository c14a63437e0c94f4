/**
 * The load suite's arrival schedule: an open model at a fixed rate. Request `i` is due at
 * `i / rate` seconds after the start and is launched then whether or not earlier requests have
 * been answered, so a slow server meets a growing queue, as it would in production, instead of
 * a politely waiting client (the "coordinated omission" of closed-loop generators). Latency is
 * measured from the due time, so any delay in launching counts against the server, never for it.
 */

/** How many requests a run of `durationMs` at `rate` per second sends. */
export function requestCount(rate: number, durationMs: number): number {
  return Math.floor((rate * durationMs) / 1000 + 1e-9);
}

/** When request `index` is due, in ms after the start: evenly spaced, never drifting. */
export function dueAt(index: number, rate: number): number {
  return (index * 1000) / rate;
}

/**
 * A deterministic interleaving of weighted names (nginx's smooth weighted round-robin): every
 * `sum(weights)` consecutive picks hold each name exactly `weight` times, spread out rather than
 * in runs, so even a short run carries the configured mix and no class arrives in bursts.
 */
export function weightedSequence<T extends string>(weights: ReadonlyArray<readonly [T, number]>): () => T {
  const active = weights.filter(([, weight]) => weight > 0);
  if (active.length === 0) throw new Error('the mix needs at least one class with a positive weight');
  const total = active.reduce((sum, [, weight]) => sum + weight, 0);
  const current = active.map(() => 0);
  return () => {
    let best = 0;
    for (let i = 0; i < active.length; i++) {
      current[i]! += active[i]![1];
      if (current[i]! > current[best]!) best = i;
    }
    current[best]! -= total;
    return active[best]![0];
  };
}

export interface ScheduleOutcome {
  /** Requests launched (all of them, unless stopped early). */
  launched: number;
  /** How late each launch was against its due time, in ms (the generator's own lag). */
  lagsMs: Float64Array;
}

/**
 * Launches `count` requests at `rate` per second from `startAt` (a performance.now() time):
 * `launch(index, dueTime)` is called for each, in order, as soon as it is due. A timer wakes the
 * loop for the next due request; when it wakes late (a busy event loop), every request already
 * due is launched at once with its original due time, so the schedule never slips.
 */
export function runSchedule(
  count: number,
  rate: number,
  startAt: number,
  launch: (index: number, due: number) => void,
): Promise<ScheduleOutcome> {
  const lagsMs = new Float64Array(count);
  let next = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < count) {
        const due = startAt + dueAt(next, rate);
        if (due > now) break;
        lagsMs[next] = now - due;
        launch(next, due);
        next++;
      }
      if (next >= count) {
        resolve({ launched: next, lagsMs });
        return;
      }
      const wait = startAt + dueAt(next, rate) - performance.now();
      setTimeout(tick, Math.max(0, wait));
    };
    tick();
  });
}
