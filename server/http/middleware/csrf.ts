import { statusOf } from '../../../shared/errors';
import { errorBody } from '../../base/errors';
import type { AppContext, AppMiddleware } from '../env';
import { normalizeOrigin } from './cors';

/** What checkCsrf needs of a request: its method and four headers, as the caller read them. */
export interface CsrfRequest {
  method: string;
  origin: string | undefined;
  secFetchSite: string | undefined;
  contentType: string | undefined;
  /** The request's own host (and port), from Host or the request URL. */
  host: string;
  /** Origins trusted besides this site itself; a Set must hold them normalized (see normalizeOrigin). */
  allowedOrigins: ReadonlySet<string> | readonly string[];
}

export interface CsrfRefusal {
  code: 'FORBIDDEN' | 'UNSUPPORTED_MEDIA_TYPE';
  message: string;
}

/** RFC 9110 §9.2.1: methods that change nothing, so a forged one gains an attacker nothing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Sec-Fetch-Site values that prove a browser request did not come from another site's page:
 * `same-origin`, or `none` for one the user started (typed URL, bookmark). `same-site` is not
 * enough: a sibling subdomain may be run by someone else.
 */
const TRUSTED_FETCH_SITES = new Set(['same-origin', 'none']);

/**
 * Whether a cookie-authenticated request may proceed, per OWASP's CSRF cheat sheet: verify the
 * origin with standard headers, fall back to Fetch Metadata, and accept JSON only.
 *
 * - Safe methods pass.
 * - A state-changing request with an Origin passes when that Origin is this site (same host;
 *   either scheme, as TLS usually ends at a proxy in front of us, which Go's
 *   net/http.CrossOriginProtection accepts too) or an allowed origin. `Origin: null` (sandboxed
 *   frames, privacy redirects) is never trusted.
 * - Without an Origin it passes only with `Sec-Fetch-Site: same-origin` or `none`. Browsers send
 *   Origin on every POST, so a request with neither header is not from a browser page we can
 *   vouch for; cookie-authenticated callers are browsers.
 * - Its Content-Type must be application/json. HTML forms can send only urlencoded, multipart
 *   and text/plain bodies, and a cross-origin fetch with any other type needs a CORS preflight,
 *   which the allow-list refuses: a second, independent line of defence.
 *
 * Pure, so the tRPC layer can call it only when a request authenticates with the refresh cookie
 * (bearer tokens and API keys cannot be forged cross-site: the browser does not attach them).
 */
export function checkCsrf(request: CsrfRequest): CsrfRefusal | null {
  if (SAFE_METHODS.has(request.method)) return null;
  const { origin } = request;
  if (origin !== undefined) {
    if (!isSameOrigin(origin, request.host) && !isAllowedOrigin(origin, request.allowedOrigins)) {
      return { code: 'FORBIDDEN', message: 'cross-site request refused: the origin is not allowed' };
    }
  } else if (request.secFetchSite === undefined || !TRUSTED_FETCH_SITES.has(request.secFetchSite)) {
    return {
      code: 'FORBIDDEN',
      message: 'cross-site request refused: no Origin header and Sec-Fetch-Site is not same-origin',
    };
  }
  if (!isJson(request.contentType)) {
    return { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'state-changing requests must be application/json' };
  }
  return null;
}

function isSameOrigin(origin: string, host: string): boolean {
  const lowerHost = host.toLowerCase();
  return origin === `https://${lowerHost}` || origin === `http://${lowerHost}`;
}

function isAllowedOrigin(origin: string, allowed: ReadonlySet<string> | readonly string[]): boolean {
  if (origin === 'null') return false;
  if (allowed instanceof Set) return allowed.has(origin);
  return (allowed as readonly string[]).some((entry) => normalizeOrigin(entry) === origin);
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semicolon = contentType.indexOf(';');
  const mediaType = semicolon === -1 ? contentType : contentType.slice(0, semicolon);
  return mediaType.trim().toLowerCase() === 'application/json';
}

export interface CsrfOptions {
  /** Origins trusted besides this site itself (config CORS_ORIGINS). */
  allowedOrigins: readonly string[];
  /**
   * Whether this request needs the check: true when it would be authenticated by a cookie.
   * Called for state-changing methods only.
   */
  appliesTo: (c: AppContext) => boolean;
}

/**
 * checkCsrf as a middleware: refuses a forged request with 403 (or 415 for a form content type)
 * in the platform's error body before it reaches a handler. Safe methods and requests that
 * `appliesTo` waves through cost no header read.
 */
export function csrf(options: CsrfOptions): AppMiddleware {
  const allowedOrigins = new Set<string>();
  for (const origin of options.allowedOrigins) {
    const normalized = normalizeOrigin(origin);
    if (normalized) allowedOrigins.add(normalized);
  }
  const { appliesTo } = options;

  return async function csrfGuard(c, next) {
    if (SAFE_METHODS.has(c.req.method) || !appliesTo(c)) return next();
    const refusal = checkCsrf({
      method: c.req.method,
      origin: c.req.header('origin'),
      secFetchSite: c.req.header('sec-fetch-site'),
      contentType: c.req.header('content-type'),
      // The runtime builds the URL from the Host header (or HTTP/2's :authority).
      host: new URL(c.req.url).host,
      allowedOrigins,
    });
    if (refusal) {
      const status = statusOf(refusal.code) as 403 | 415;
      return c.json(
        errorBody(refusal.code, refusal.message, c.get('requestId') ?? 'unknown', c.get('traceId')),
        status,
      );
    }
    return next();
  };
}
