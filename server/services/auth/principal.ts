import type { Role } from '../../../db/database';

export type { Role } from '../../../db/database';

/** A user signed in with an access token (a session). */
export interface UserPrincipal {
  kind: 'user';
  userId: string;
  organizationId: string;
  role: Role;
  /** The session the access token was issued under. */
  sessionId: string;
}

/** A caller holding an API key. It acts for the key's owner, within the key's scopes. */
export interface ApiKeyPrincipal {
  kind: 'apiKey';
  keyId: string;
  /** The key's owner. */
  userId: string;
  organizationId: string;
  /** The owner's role: a key never does more than its owner could. */
  role: Role;
  scopes: readonly string[];
}

export type Principal = UserPrincipal | ApiKeyPrincipal;

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` is `minimum` or above it (viewer < operator < admin). */
export function roleAtLeast(role: Role, minimum: Role): boolean {
  return RANK[role] >= RANK[minimum];
}
