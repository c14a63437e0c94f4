import type { PlatformRole, Role } from '../../shared/auth';

export type { PlatformRole, Role } from '../../shared/auth';

/** A user signed in with an access token (a session). */
export interface UserPrincipal {
  kind: 'user';
  userId: string;
  organizationId: string;
  role: Role;
  /** Authority over the installation; null for everyone but the platform's own operators. */
  platformRole: PlatformRole | null;
  /** The session the access token was issued under. */
  sessionId: string;
  /** Signed in with a second factor (the token's `acr` is aal2); absent: not known to have been. */
  secondFactor?: boolean;
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
  /** The owner's platform role: a key acts in platform scope only for a platform operator's key. */
  platformRole: PlatformRole | null;
  scopes: readonly string[];
}

export type Principal = UserPrincipal | ApiKeyPrincipal;

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` is `minimum` or above it (viewer < operator < admin). */
export function roleAtLeast(role: Role, minimum: Role): boolean {
  return RANK[role] >= RANK[minimum];
}

/** Whether a platform role (null: none) is `minimum` or above it (operator < admin). */
export function platformRoleAtLeast(role: PlatformRole | null, minimum: PlatformRole): boolean {
  return role !== null && RANK[role] >= RANK[minimum];
}
