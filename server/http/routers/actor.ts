import type { Principal } from '../../base/principal';
import type { Context } from '../context';

/**
 * Who is acting, for the services' organization scoping and the audit log: the caller's
 * principal with the calling key's id and where the request came from. Every router makes its
 * actors here.
 */
export function actorOf<P extends Principal>(ctx: Context, principal: P) {
  return {
    ...principal,
    apiKeyId: principal.kind === 'apiKey' ? principal.keyId : null,
    ip: ctx.http?.ip() ?? null,
    userAgent: ctx.http?.userAgent() ?? null,
  };
}
