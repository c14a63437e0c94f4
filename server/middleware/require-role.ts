import type { MiddlewareHandler } from 'hono';
import type { ApiKeyScope } from '../../shared/auth';
import type { AppDeps } from '../deps';
import { PlatformError } from '../errors';
import { readCredential } from '../services/auth/authenticator';
import { type Role, roleAtLeast } from '../services/auth/principal';

/**
 * The `role` policy of tRPC procedures (server/trpc.ts) for a plain HTTP route: a user with at
 * least `role`, or an API key with `scope` whose owner has at least `role`.
 */
export function requireRole(deps: AppDeps, role: Role, scope: ApiKeyScope): MiddlewareHandler {
  return async function checkRole(c, next) {
    const credential = readCredential(
      c.req.header('authorization') ?? null,
      c.req.header('x-api-key') ?? null,
    );
    if (!credential) {
      throw new PlatformError('UNAUTHORIZED', 'this route needs an access token or an API key', {
        'WWW-Authenticate': 'Bearer realm="beauty-crafter"',
      });
    }
    const { authenticator } = deps.auth;
    const principal =
      credential.kind === 'apiKey'
        ? (await authenticator.apiKey(credential.value, scope)).principal
        : await authenticator.accessToken(credential.value);
    if (!roleAtLeast(principal.role, role)) {
      throw new PlatformError('FORBIDDEN', `this route needs the ${role} role or above`);
    }
    await next();
  };
}
