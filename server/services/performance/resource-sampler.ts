import { performance as perfHooks } from 'node:perf_hooks';

/** One reading of the process's counters, taken every `intervalMs`. */
export interface ResourceSample {
  /** ms since the epoch. */
  at: number;
  /** CPU time used since start (user + system), in seconds. */
  cpuSeconds: number;
  /** Event-loop busy time since start, in ms; null where the runtime does not measure it. */
  eventLoopActiveMs: number | null;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Requests and tRPC calls served since start (all series). */
  requests: number;
  /** Time spent in database queries since start, in ms. */
  queryMs: number;
}

/** The change between two samples, per second of wall time. */
export interface ResourceRates {
  seconds: number;
  requestsPerSecond: number;
  /** CPU seconds per wall second (1 is one core fully busy). */
  cpuUtilization: number;
  /** CPU seconds per request; null without requests in the window. */
  cpuSecondsPerRequest: number | null;
  /** Share of the time the event loop was busy; null where the runtime does not measure it. */
  eventLoopUtilization: number | null;
  /** Query ms per wall second / 1000: how many connections' worth of query time was spent. */
  databaseBusyConnections: number;
}

export interface ResourceCounters {
  requests: () => number;
  queryMs: () => number;
}

/**
 * Samples CPU, event-loop activity, memory, requests and database time on a timer and keeps the
 * last `retain` samples (15 minutes at 5 s by default). Capacity and bottleneck detection read
 * rates over its windows instead of instantaneous values, which are noise.
 */
export class ResourceSampler {
  private readonly samples: ResourceSample[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly counters: ResourceCounters,
    private readonly options: { intervalMs: number; retain: number; now?: () => number } = {
      intervalMs: 5_000,
      retain: 180,
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.options.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes a sample now (also what the timer does). */
  sample(): ResourceSample {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const elu = eventLoopActiveMs();
    const sample: ResourceSample = {
      at: (this.options.now ?? Date.now)(),
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      eventLoopActiveMs: elu,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      requests: this.counters.requests(),
      queryMs: this.counters.queryMs(),
    };
    this.samples.push(sample);
    if (this.samples.length > this.options.retain) this.samples.shift();
    return sample;
  }

  /** Every retained sample, oldest first. */
  history(): readonly ResourceSample[] {
    return this.samples;
  }

  /** Rates over (about) the last `windowMs`, from the oldest sample inside it to a fresh one. */
  rates(windowMs: number): ResourceRates | null {
    const latest = this.sample();
    const from = this.samples.find((s) => s.at >= latest.at - windowMs && s !== latest);
    if (!from) return null;
    return ratesBetween(from, latest);
  }
}

export function ratesBetween(from: ResourceSample, to: ResourceSample): ResourceRates | null {
  const seconds = (to.at - from.at) / 1000;
  if (seconds <= 0) return null;
  const requests = to.requests - from.requests;
  const cpu = to.cpuSeconds - from.cpuSeconds;
  const active =
    to.eventLoopActiveMs !== null && from.eventLoopActiveMs !== null
      ? to.eventLoopActiveMs - from.eventLoopActiveMs
      : null;
  return {
    seconds,
    requestsPerSecond: requests / seconds,
    cpuUtilization: cpu / seconds,
    cpuSecondsPerRequest: requests > 0 ? cpu / requests : null,
    // Bun answers eventLoopUtilization() with zeros: treat "never active" as unmeasured.
    eventLoopUtilization: active !== null && active > 0 ? Math.min(1, active / 1000 / seconds) : null,
    databaseBusyConnections: (to.queryMs - from.queryMs) / 1000 / seconds,
  };
}

function eventLoopActiveMs(): number | null {
  const measure = perfHooks.eventLoopUtilization;
  if (typeof measure !== 'function') return null;
  const { active } = measure();
  return typeof active === 'number' ? active : null;
}
