/**
 * Load for the fault suite: HTTP calls whose every outcome is recorded as the caller saw it
 * (status, the error code in the body, whether the body was JSON at all, how long it took), so a
 * scenario can assert on each one and print counts for the report.
 */

/** One request and what came back. */
export interface Outcome {
  /** The caller's label: 'write', 'read', 'login', ... */
  kind: string;
  /** When it was sent, in ms since the recorder's start. */
  at: number;
  /** How long until the whole body was read, or until the failure. */
  ms: number;
  /** The HTTP status; null when no response arrived (connection error, timeout). */
  status: number | null;
  /** Error code from the body: tRPC's `error.data.code`, or the plain routes' `error.code`. */
  code: string | null;
  /** Whether the body parsed as JSON (every answer of the platform must). */
  json: boolean;
  /** The parsed body, when it was JSON. */
  body: unknown;
  headers: Headers | null;
  /** Why no response arrived. */
  networkError: string | null;
  /** The caller's unique marker of what a write wrote, to look for in the database afterwards. */
  marker?: string;
}

export interface CallOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /** The client gives up after this long: a server that hangs shows up as `networkError: 'timeout'`. */
  timeoutMs?: number;
  /** Copied to the outcome. */
  marker?: string;
}

/** Collects outcomes against one clock. */
export class LoadRecorder {
  readonly outcomes: Outcome[] = [];
  private readonly t0 = performance.now();

  /** Milliseconds since the recorder was made. */
  now(): number {
    return Math.round(performance.now() - this.t0);
  }

  /** Sends one request and records its outcome; never throws. */
  async call(kind: string, url: string, options: CallOptions = {}): Promise<Outcome> {
    const at = this.now();
    const started = performance.now();
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let outcome: Outcome;
    try {
      const response = await fetch(url, {
        method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      const text = await response.text();
      let body: unknown;
      let json = true;
      try {
        body = JSON.parse(text);
      } catch {
        json = false;
        body = text.slice(0, 200);
      }
      outcome = {
        kind,
        at,
        ms: performance.now() - started,
        status: response.status,
        code: errorCode(body),
        json,
        body,
        headers: response.headers,
        networkError: null,
      };
    } catch (error) {
      const name = (error as { name?: string }).name;
      outcome = {
        kind,
        at,
        ms: performance.now() - started,
        status: null,
        code: null,
        json: false,
        body: undefined,
        headers: null,
        networkError:
          name === 'TimeoutError' ? 'timeout' : String((error as { cause?: unknown }).cause ?? error),
      };
    }
    if (options.marker !== undefined) outcome.marker = options.marker;
    this.outcomes.push(outcome);
    return outcome;
  }

  /** Outcomes of `kind` (all when omitted) sent within [from, to). */
  select(kind?: string, from = 0, to = Number.POSITIVE_INFINITY): Outcome[] {
    return this.outcomes.filter((o) => (kind === undefined || o.kind === kind) && o.at >= from && o.at < to);
  }
}

/** The URL of a tRPC query with its input in the query string (no batching). */
export function queryUrl(base: string, path: string, input?: unknown): string {
  const url = `${base}/api/trpc/${path}`;
  return input === undefined ? url : `${url}?input=${encodeURIComponent(JSON.stringify(input))}`;
}

/** The URL of a tRPC mutation; its input goes in the body. */
export function mutationUrl(base: string, path: string): string {
  return `${base}/api/trpc/${path}`;
}

/** The result data of a successful tRPC call. */
export function resultData<T>(outcome: Outcome): T | undefined {
  return (outcome.body as { result?: { data?: T } } | undefined)?.result?.data;
}

function errorCode(body: unknown): string | null {
  const error = (body as { error?: { code?: unknown; data?: { code?: unknown } } } | null)?.error;
  if (!error) return null;
  if (typeof error.data?.code === 'string') return error.data.code;
  return typeof error.code === 'string' ? error.code : null;
}

/** `status code` → count, for the printed summaries ("503 SERVICE_UNAVAILABLE": 12). */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key =
      o.status === null ? `no answer (${o.networkError})` : `${o.status}${o.code ? ` ${o.code}` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** Runs `count` concurrent loops of `step` until `running()` turns false. */
export function loops(
  count: number,
  running: () => boolean,
  step: (loop: number, i: number) => Promise<void>,
) {
  return Promise.all(
    Array.from({ length: count }, async (_, loop) => {
      for (let i = 0; running(); i++) await step(loop, i);
    }),
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The server's own Prometheus samples of `name`, summed over the series matching `labels`. */
export async function metricValue(base: string, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${base}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const series = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => series.includes(`${k}="${v}"`))) total += Number(match[3]);
  }
  return total;
}
