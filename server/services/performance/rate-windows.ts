/** Seconds kept: a power of two (the slot is `second & MASK`) above the longest window plus the current second. */
const SLOTS = 1024;
const MASK = SLOTS - 1;

/** The windows the analytics report, in seconds: 1, 5 and 15 minutes, as load averages. */
export const RATE_WINDOW_SECONDS = [60, 300, 900] as const;

/** The longest window `count` and `rate` accept. */
export const LONGEST_RATE_WINDOW_SECONDS = SLOTS - 1;

export interface RateWindowsOptions {
  /** Milliseconds since the epoch; `Date.now` unless a test drives time. */
  clock?: () => number;
  /**
   * When counting began (ms). A window longer than the time since then is divided by that time
   * instead, so a server up for ten seconds does not report a sixth of its real one-minute rate.
   */
  startedAtMs?: number;
}

/**
 * Events per second over sliding windows of up to 17 minutes: a ring of per-second counters,
 * advanced lazily when an event or a read comes with a later time (no timer), so recording is a
 * division, a comparison and an increment, and allocates nothing.
 *
 * Windows cover complete seconds only (the current one is still filling): figures lag by under a
 * second and never under-count the last one.
 */
export class RateWindows {
  private readonly counts = new Uint32Array(SLOTS);
  private readonly clock: () => number;
  private readonly startedSecond: number;
  /** The latest second counted; slots of seconds after it hold nothing yet. */
  private head: number;

  constructor(options: RateWindowsOptions = {}) {
    this.clock = options.clock ?? Date.now;
    const startedAtMs = options.startedAtMs ?? this.clock();
    this.startedSecond = Math.floor(startedAtMs / 1000);
    this.head = Math.max(this.startedSecond, Math.floor(this.clock() / 1000));
  }

  /** Counts one event at `now` (ms). */
  record(now: number = this.clock()): void {
    let second = Math.floor(now / 1000);
    if (second > this.head) this.advanceTo(second);
    // A wall clock stepped back: count in the latest second rather than in one already reported.
    else second = this.head;
    const slot = second & MASK;
    this.counts[slot] = (this.counts[slot] as number) + 1;
  }

  /** Events in the `windowSeconds` complete seconds before `now`. */
  count(windowSeconds: number, now: number = this.clock()): number {
    checkWindow(windowSeconds);
    const current = Math.floor(now / 1000);
    let total = 0;
    for (let second = current - windowSeconds; second < current; second++) {
      // Seconds after the head, or so far behind it that their slot was reused, had no events.
      if (second > this.head || this.head - second >= SLOTS) continue;
      total += this.counts[second & MASK] as number;
    }
    return total;
  }

  /** Events per second over the `windowSeconds` complete seconds before `now`. */
  rate(windowSeconds: number, now: number = this.clock()): number {
    const span = Math.min(windowSeconds, Math.floor(now / 1000) - this.startedSecond);
    return span > 0 ? this.count(windowSeconds, now) / span : 0;
  }

  reset(): void {
    this.counts.fill(0);
  }

  private advanceTo(second: number): void {
    if (second - this.head >= SLOTS) this.counts.fill(0);
    else for (let s = this.head + 1; s <= second; s++) this.counts[s & MASK] = 0;
    this.head = second;
  }
}

function checkWindow(windowSeconds: number): void {
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > LONGEST_RATE_WINDOW_SECONDS) {
    throw new RangeError(`a rate window is 1 to ${LONGEST_RATE_WINDOW_SECONDS} whole seconds`);
  }
}
