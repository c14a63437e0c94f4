import type { AuditActor } from './audit';
import type { Principal } from './principal';

/** Where a request came from, recorded with the audit events it causes. */
export interface RequestOrigin {
  ip?: string | null;
  userAgent?: string | null;
}

/** Who asks for a change: a principal, with where the request came from when known. */
export type Actor = Principal & RequestOrigin;

/** The audit log's view of an actor. */
export function auditActor(actor: Actor): AuditActor {
  return {
    organizationId: actor.organizationId,
    userId: actor.userId,
    apiKeyId: actor.kind === 'apiKey' ? actor.keyId : null,
    ip: actor.ip ?? null,
    userAgent: actor.userAgent ?? null,
  };
}
