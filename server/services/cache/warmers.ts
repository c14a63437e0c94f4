import type { Cache } from './cache';

/** Something a service knows it will be asked for soon, loaded before it is. */
export interface CacheWarmer {
  /** Unique; how an operator names it to `performance.cache.warm`. */
  name: string;
  /** Fills the cache and resolves to the number of entries warmed; `signal` aborts at the timeout. */
  run(cache: Cache, signal: AbortSignal): Promise<number>;
}

export interface WarmResult {
  name: string;
  entries: number;
  durationMs: number;
  /** Null when the warmer succeeded. */
  error: string | null;
}

export interface WarmerRegistryOptions {
  cache: Cache;
  /** Bound on each warmer, so one hung dependency cannot hold up the others or the caller. */
  timeoutMs: number;
}

class WarmerTimeout extends Error {
  override name = 'WarmerTimeout';
}

/**
 * The warmers services register. The cache component runs them all at start; an operator runs
 * them on demand. A warmer's failure is its result's `error`: warming only ever saves time, so it
 * never fails its caller.
 */
export class WarmerRegistry {
  private readonly warmers = new Map<string, CacheWarmer>();
  private readonly latest = new Map<string, WarmResult>();
  private readonly options: WarmerRegistryOptions;

  constructor(options: WarmerRegistryOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError('timeoutMs must be positive');
    this.options = options;
  }

  register(warmer: CacheWarmer): void {
    if (this.warmers.has(warmer.name)) throw new Error(`cache warmer ${warmer.name} registered twice`);
    this.warmers.set(warmer.name, warmer);
  }

  names(): string[] {
    return [...this.warmers.keys()];
  }

  /** Runs every warmer, side by side. */
  warmAll(): Promise<WarmResult[]> {
    return this.warm();
  }

  /** Runs the named warmers (all when none are named), side by side; an unknown name is an error result. */
  async warm(names?: readonly string[]): Promise<WarmResult[]> {
    const wanted = names ? [...new Set(names)] : this.names();
    return Promise.all(
      wanted.map(async (name) => {
        const warmer = this.warmers.get(name);
        if (!warmer) return { name, entries: 0, durationMs: 0, error: 'no warmer of this name' };
        const result = await this.runOne(warmer);
        this.latest.set(name, result);
        return result;
      }),
    );
  }

  /** The most recent result of each warmer that has run, in registration order. */
  lastResults(): WarmResult[] {
    return this.names().flatMap((name) => this.latest.get(name) ?? []);
  }

  private async runOne(warmer: CacheWarmer): Promise<WarmResult> {
    const { timeoutMs } = this.options;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new WarmerTimeout(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    const started = performance.now();
    let entries = 0;
    let error: string | null = null;
    try {
      // Through then(), a warmer that throws synchronously fails like one that rejects.
      const run = Promise.resolve().then(() => warmer.run(this.options.cache, controller.signal));
      // A warmer still running after its timeout must not become an unhandled rejection later.
      run.catch(() => undefined);
      entries = await Promise.race([run, timeout]);
      if (!Number.isInteger(entries) || entries < 0) {
        error = `returned ${String(entries)} instead of a count of entries`;
        entries = 0;
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    } finally {
      clearTimeout(timer);
    }
    return {
      name: warmer.name,
      entries,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      error,
    };
  }
}
