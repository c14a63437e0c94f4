import { LatencyHistogram } from './latency-histogram';

export const MS_PER_MINUTE = 60_000;

/** One series' requests in one minute: what a stored history point holds. */
export class MinuteSlot {
  /** Minutes since the epoch (`Math.floor(ms / 60_000)`); -1 before the first request. */
  minute = -1;
  requests = 0;
  /** Requests answered 400–499 (for procedures: the status their tRPC code maps to). */
  clientErrors = 0;
  /** Requests answered 500 and above. */
  serverErrors = 0;
  readonly latency = new LatencyHistogram();

  record(seconds: number, status: number): void {
    this.requests++;
    if (status >= 500) this.serverErrors++;
    else if (status >= 400) this.clientErrors++;
    this.latency.record(seconds);
  }

  clear(): void {
    this.requests = 0;
    this.clientErrors = 0;
    this.serverErrors = 0;
    this.latency.reset();
  }
}

/**
 * The current minute of one series and the minute before it, for the history: the request path
 * counts into `current`, and the first request of a new minute swaps the two slots (no
 * allocation; clearing a slot is one `fill` a minute). The flush timer takes the completed minute
 * off (`take`) every few seconds, long before the next swap could reuse its slot: a completed
 * minute is lost only if the event loop was blocked for most of a minute.
 */
export class MinuteCounts {
  private current = new MinuteSlot();
  private completed = new MinuteSlot();
  /** When the open minute ends (ms): one comparison a request instead of a division. */
  private nextMinuteMs = Number.NEGATIVE_INFINITY;

  /** Counts one request that ended at `now` (ms since the epoch) with `status`. */
  record(seconds: number, status: number, now: number): void {
    // A wall clock stepped back counts in the minute already open, as RateWindows does.
    if (now >= this.nextMinuteMs) this.roll(Math.floor(now / MS_PER_MINUTE));
    this.current.record(seconds, status);
  }

  /**
   * Hands every minute before `beforeMinute` that holds requests to `visit`, then forgets it.
   * `beforeMinute` past the current minute (shutdown) takes the partial minute too.
   */
  take(beforeMinute: number, visit: (slot: MinuteSlot) => void): void {
    for (const slot of [this.completed, this.current]) {
      if (slot.requests > 0 && slot.minute < beforeMinute) {
        visit(slot);
        slot.clear();
      }
    }
  }

  /** Hands every minute not taken yet (the current one included) to `visit`, leaving it in place. */
  peek(visit: (slot: MinuteSlot) => void): void {
    if (this.completed.requests > 0) visit(this.completed);
    if (this.current.requests > 0) visit(this.current);
  }

  private roll(minute: number): void {
    if (this.current.requests > 0) {
      const done = this.current;
      this.current = this.completed;
      this.completed = done;
      this.current.clear();
    }
    this.current.minute = minute;
    this.nextMinuteMs = (minute + 1) * MS_PER_MINUTE;
  }
}
