import {
  type OutboundPolicy,
  OutboundRefusedError,
  outboundRequest,
  parseOutboundUrl,
} from '../../base/outbound/index';
import type { MetricQuerier } from './contracts';

export interface PrometheusQuerierOptions {
  /** The Prometheus server's base URL, e.g. http://prometheus:9090 (a path prefix is kept). */
  url: string;
  /** Bound on one query, connection included. */
  timeoutMs: number;
  /** Where the URL may point (purpose metrics; metric-sources.ts allows DEPLOY_PROMETHEUS_URL's host). */
  outbound: OutboundPolicy;
}

/**
 * Answers analysis queries with a PromQL instant query (GET /api/v1/query, the time left to the
 * server: "now"). https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
 *
 * A scalar is its value; a vector of one sample is that sample's value; an empty vector is null
 * (no data yet, which the analysis counts as inconclusive); several samples are an error, since an
 * analysis compares one number; wrap the query in sum(), max() or similar. Errors say what went
 * wrong in our words: Prometheus's error text and series labels are not repeated.
 */
export class PrometheusQuerier implements MetricQuerier {
  readonly kind = 'prometheus';
  private readonly endpoint: URL;

  constructor(private readonly options: PrometheusQuerierOptions) {
    const base = parseOutboundUrl(options.url, 'metrics', options.outbound);
    this.endpoint = new URL(`${base.pathname.replace(/\/$/, '')}/api/v1/query`, base);
  }

  async query(
    expression: string,
    context: { deploymentId: string; version: string },
  ): Promise<number | null> {
    const url = new URL(this.endpoint);
    url.searchParams.set('query', fillPlaceholders(expression, context));
    let response: Awaited<ReturnType<typeof outboundRequest>>;
    try {
      response = await outboundRequest(url, 'metrics', this.options.outbound, {
        headers: { accept: 'application/json' },
        timeoutMs: this.options.timeoutMs,
      });
    } catch (error) {
      if (error instanceof OutboundRefusedError && error.code === 'timeout') {
        throw new Error(`Prometheus did not answer within ${this.options.timeoutMs} ms`);
      }
      throw new Error(`Prometheus could not be reached: ${(error as Error).message}`);
    }
    let body: PrometheusResponse;
    try {
      body = JSON.parse(response.body.toString('utf8')) as PrometheusResponse;
    } catch {
      throw new Error(`Prometheus answered ${response.status} with a body that is not JSON`);
    }
    if (body.status !== 'success' || !body.data) {
      // bad_data (400) is a mistake in the query; execution (422), timeout or unavailable (503) are
      // the server's. The error type is one of a closed set; the error text is not repeated.
      const type =
        typeof body.errorType === 'string' && ERROR_TYPES.has(body.errorType) ? body.errorType : null;
      throw new Error(`Prometheus refused the query (${type ?? response.status})`);
    }
    return resultValue(body.data);
  }
}

interface PrometheusResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown };
  errorType?: string;
  error?: string;
}

// https://prometheus.io/docs/prometheus/latest/querying/api/#format-overview
const ERROR_TYPES: ReadonlySet<string> = new Set([
  'bad_data',
  'timeout',
  'canceled',
  'execution',
  'unavailable',
  'internal',
  'not_found',
  'not_acceptable',
]);

type Sample = [number, string];

function resultValue(data: { resultType: string; result: unknown }): number | null {
  switch (data.resultType) {
    case 'scalar':
      return sampleValue(data.result as Sample);
    case 'vector': {
      const result = data.result as { metric: Record<string, string>; value: Sample }[];
      if (result.length === 0) return null;
      if (result.length > 1) {
        throw new Error(
          `the query returned ${result.length} series where an analysis needs one number: aggregate it, e.g. with sum(...)`,
        );
      }
      return sampleValue((result[0] as { value: Sample }).value);
    }
    default:
      throw new Error(
        `the query returned a ${data.resultType === 'matrix' || data.resultType === 'string' ? data.resultType : 'result of an unknown type'}; an analysis needs a scalar or a one-sample vector`,
      );
  }
}

/** Prometheus writes sample values as strings: "1.5", "NaN", "+Inf", "-Inf". */
function sampleValue(sample: Sample): number {
  const text = sample[1];
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

const PLACEHOLDER = /\{\{\s*([a-zA-Z]+)\s*\}\}/y;

/**
 * Replaces `{{version}}` and `{{deploymentId}}` with the deployment's values. A placeholder may
 * only stand inside a double-quoted string (a label matcher's value, as in
 * `{version="{{version}}"}`), and its value is escaped for one (backslash, double quote, newline,
 * as PromQL and the alert expression language both read them), so a version such as `1"}or vector(1)`
 * stays a label value and can never rewrite the query.
 */
export function fillPlaceholders(
  expression: string,
  context: { deploymentId: string; version: string },
): string {
  let out = '';
  let quote: string | null = null;
  for (let i = 0; i < expression.length; ) {
    const c = expression[i] as string;
    if (c === '{' && expression[i + 1] === '{') {
      PLACEHOLDER.lastIndex = i;
      const match = PLACEHOLDER.exec(expression);
      if (match) {
        const name = match[1] as string;
        if (name !== 'version' && name !== 'deploymentId') {
          throw new Error(`unknown placeholder {{${name}}}: only {{version}} and {{deploymentId}} exist`);
        }
        if (quote !== '"') {
          throw new Error(`the placeholder {{${name}}} must stand inside a double-quoted label value`);
        }
        out += escapeDoubleQuoted(context[name]);
        i += match[0].length;
        continue;
      }
    }
    if (quote !== null && c === '\\' && quote !== '`') {
      // An escape inside a string: the next character is never a closing quote.
      out += expression.slice(i, i + 2);
      i += 2;
      continue;
    }
    if (quote === null && (c === '"' || c === "'" || c === '`')) quote = c;
    else if (c === quote) quote = null;
    out += c;
    i++;
  }
  return out;
}

function escapeDoubleQuoted(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
