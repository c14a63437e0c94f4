import { errorBody } from '../../base/errors';
import type { AppMiddleware } from '../env';

export interface CorsOptions {
  /** Origins whose pages may call the API with credentials (config CORS_ORIGINS). */
  origins: readonly string[];
}

/** What a browser may send cross-origin: tRPC's methods and the headers our clients set. */
const ALLOW_METHODS = 'GET, POST';
const ALLOW_HEADERS = 'content-type, authorization, x-api-key, x-request-id, trpc-accept';
/** Response headers a cross-origin page may read: the request id and the rate-limit answer. */
const EXPOSE_HEADERS = 'X-Request-Id, RateLimit, RateLimit-Policy, Retry-After';
/** Ten minutes: spares most preflights, yet an origin dropped from CORS_ORIGINS is refused soon. */
const MAX_AGE_SECONDS = '600';

/**
 * The origin as a browser sends it in an Origin header: scheme, host and a non-default port,
 * no path and no trailing slash. CORS_ORIGINS holds URLs, and `https://app.example/` must still
 * match `Origin: https://app.example`.
 */
export function normalizeOrigin(url: string): string | undefined {
  try {
    const origin = new URL(url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * CORS with an allow-list, for the routes browsers call cross-origin (mount it on
 * `/api/trpc/*`, not on `*`: it reads the Origin header, and other routes need none).
 *
 * A request without Origin is not cross-origin and costs one header read. An allowed origin gets
 * itself back in Access-Control-Allow-Origin (never `*`: the dashboard sends credentials, and
 * browsers refuse `*` with them) and its preflight a 204. A disallowed origin gets no CORS
 * headers, so the browser withholds the response, and its preflight a 403 in the platform's
 * error body.
 */
export function cors(options: CorsOptions): AppMiddleware {
  const allowed = new Set<string>();
  for (const origin of options.origins) {
    const normalized = normalizeOrigin(origin);
    if (normalized) allowed.add(normalized);
  }
  // Everything but the echoed origin is fixed: built once, copied into each preflight answer.
  const preflightHeaders: Record<string, string> = {
    'Access-Control-Allow-Methods': ALLOW_METHODS,
    'Access-Control-Allow-Headers': ALLOW_HEADERS,
    'Access-Control-Allow-Credentials': 'true',
    'Access-Control-Max-Age': MAX_AGE_SECONDS,
    Vary: 'Origin',
  };

  return async function corsAllowList(c, next) {
    const origin = c.req.header('origin');
    if (origin === undefined) return next();
    const isAllowed = allowed.has(origin);

    if (c.req.method === 'OPTIONS') {
      if (!isAllowed) {
        return c.json(
          errorBody(
            'FORBIDDEN',
            'this origin may not call the API',
            c.get('requestId') ?? 'unknown',
            c.get('traceId'),
          ),
          403,
          { Vary: 'Origin' },
        );
      }
      return new Response(null, {
        status: 204,
        headers: { ...preflightHeaders, 'Access-Control-Allow-Origin': origin },
      });
    }

    await next();
    const headers = c.res.headers;
    // The answer depends on Origin whichever way it went: a shared cache must not hand one
    // origin's response (with or without CORS headers) to another.
    headers.append('Vary', 'Origin');
    if (!isAllowed) return;
    headers.set('Access-Control-Allow-Origin', origin);
    headers.set('Access-Control-Allow-Credentials', 'true');
    headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS);
  };
}
