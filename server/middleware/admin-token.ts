import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { PlatformError } from '../errors';

/** The token of an `Authorization: Bearer <token>` header, if that is what it holds. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Constant-time comparison; both sides are hashed first so their lengths leak nothing either. */
export function tokensMatch(presented: string | undefined, expected: string): boolean {
  if (!presented) return false;
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Guards a plain route with the admin token from config. Temporary: users and roles replace it.
 * 401 without credentials (with a WWW-Authenticate challenge, RFC 6750), 403 with wrong ones.
 */
export function adminToken(options: { token: string }): MiddlewareHandler {
  return async function adminTokenGuard(c, next) {
    const presented = bearerToken(c.req.header('authorization'));
    if (!presented) {
      throw new PlatformError('UNAUTHORIZED', 'this route needs the admin token as a bearer token', {
        'WWW-Authenticate': 'Bearer realm="beauty-crafter"',
      });
    }
    if (!tokensMatch(presented, options.token)) {
      throw new PlatformError('FORBIDDEN', 'the bearer token is not the admin token');
    }
    await next();
  };
}
