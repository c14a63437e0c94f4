/**
 * Event-loop lag by timer drift: a timer set for `intervalMs` that fires late was held up by
 * work on the loop. Unlike perf_hooks.monitorEventLoopDelay this works on Bun and on the edge.
 */
export class EventLoopMonitor {
  private lagMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly intervalMs = 100) {}

  start(): void {
    if (this.timer) return;
    const tick = (expected: number) => {
      this.timer = setTimeout(() => {
        this.lagMs = Math.max(0, performance.now() - expected);
        tick(performance.now() + this.intervalMs);
      }, this.intervalMs);
      this.timer.unref?.();
    };
    tick(performance.now() + this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** The most recent lag, in seconds. */
  lagSeconds(): number {
    return this.lagMs / 1000;
  }
}
