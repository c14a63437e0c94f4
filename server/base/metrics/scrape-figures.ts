/**
 * Figures a Prometheus scrape reads from the database, kept so that a scrape never waits on the
 * database for long: a full pool or a database that is away would otherwise hold every scrape
 * for the acquire timeout, and /metrics must answer when things go wrong most of all.
 *
 * Fresh figures (younger than `maxAgeMs`) are returned at once. Older ones start one refresh
 * (never two at once); the scrape waits for it at most `waitMs`, then carries the last figures
 * while the refresh finishes in the background. A failed refresh keeps the last figures, is
 * reported, and is tried again at the next scrape.
 */
export class ScrapeFigures<T> {
  private value: T;
  private readAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | null = null;
  private readonly maxAgeMs: number;
  private readonly waitMs: number;
  private readonly now: () => number;

  constructor(
    private readonly options: {
      read: () => Promise<T>;
      /** What a scrape carries before the first read succeeds. */
      initial: T;
      onError: (error: unknown) => void;
      /** Default 10 s. */
      maxAgeMs?: number;
      /** Default 1 s. */
      waitMs?: number;
      now?: () => number;
    },
  ) {
    this.value = options.initial;
    this.maxAgeMs = options.maxAgeMs ?? 10_000;
    this.waitMs = options.waitMs ?? 1_000;
    this.now = options.now ?? Date.now;
  }

  async get(): Promise<T> {
    if (this.now() - this.readAt < this.maxAgeMs) return this.value;
    this.refreshing ??= this.options
      .read()
      .then(
        (value) => {
          this.value = value;
          this.readAt = this.now();
        },
        (error: unknown) => this.options.onError(error),
      )
      .finally(() => {
        this.refreshing = null;
      });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.waitMs);
    });
    await Promise.race([this.refreshing, waited]);
    clearTimeout(timer);
    return this.value;
  }

  /** The next scrape reads again (after a change these figures describe). */
  invalidate(): void {
    this.readAt = Number.NEGATIVE_INFINITY;
  }
}
