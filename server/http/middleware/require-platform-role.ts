import type { ApiKeyScope, PlatformRole } from '../../../shared/auth';
import { PlatformError } from '../../base/errors';
import { platformRoleAtLeast } from '../../base/principal';
import { readCredential } from '../../services/auth/authenticator';
import type { AppDeps } from '../deps';
import type { AppMiddleware } from '../env';

/**
 * The `platform` policy of tRPC procedures (server/http/trpc.ts) for a plain HTTP route: a user
 * holding at least the platform role `role`, or an API key with `scope` whose owner holds it.
 * A tenant's admin is refused whatever his organization role.
 */
export function requirePlatformRole(deps: AppDeps, role: PlatformRole, scope: ApiKeyScope): AppMiddleware {
  return async function checkPlatformRole(c, next) {
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
    if (!platformRoleAtLeast(principal.platformRole, role)) {
      throw new PlatformError(
        'FORBIDDEN',
        `this route acts on the platform and needs the platform ${role} role or above`,
      );
    }
    await next();
  };
}
