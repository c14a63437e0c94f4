import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/database';
import {
  findChildToken,
  insertRefreshToken,
  type LockedRefreshToken,
  lockRefreshToken,
  markTokenRotated,
  revokeSession,
  touchSession,
} from '../../../db/repositories/sessions';
import { findUserById } from '../../../db/repositories/users';
import type { RequestOrigin } from '../../base/actor';
import type { AuditLog } from '../../base/audit';
import { hashSecret, secretsEqual } from './secrets';
import { toUserView, type UserView } from './user-views';

/** The settings a refresh is decided by; `SessionServiceOptions` documents each. */
export interface RefreshPolicy {
  audit: AuditLog;
  graceSeconds: number;
  idleHours: number;
  refreshDerivationKey: Uint8Array;
}

/** A refresh token as presented (already parsed), and who presented it when. */
export interface PresentedRefreshToken {
  token: string;
  tokenHash: string;
  origin: RequestOrigin;
  now: Date | undefined;
}

/**
 * The child of a refresh token: base64url(HMAC-SHA256(key, parent)), 43 characters, the shape of a
 * generated token. A family's first token is random; every later one is derived from its parent.
 *
 * Why derive instead of drawing a fresh random token: a client that sends the same token twice
 * (two tabs, a retried request whose answer was lost) must get the same child back within the
 * grace window, yet the database holds only hashes, so a random child could never be returned
 * again. Derived, it is recomputed from the parent the client presents. Without the key (a
 * server secret) nobody can compute a child, and a leaked database row still yields nothing.
 * The same property makes a refresh whose commit answer was lost safe to run again.
 */
export function deriveChildRefreshToken(key: Uint8Array, parentToken: string): string {
  return createHmac('sha256', key).update(parentToken, 'utf8').digest('base64url');
}

/** What a refresh decided: refused, or the refresh token to hand out and whose it is. */
export type RefreshOutcome =
  | { kind: 'refused' }
  | { kind: 'issued'; token: string; locked: LockedRefreshToken; user: UserView };

/**
 * Decides a refresh under the row locks of the presented token and its session: refuses a token
 * of an ended session (revoking it when expired or idle), rotates an unused token to its child,
 * returns the same child again within the grace window, and revokes the session on any other reuse.
 */
export async function decideRefresh(
  trx: Kysely<Database>,
  policy: RefreshPolicy,
  { token, tokenHash, origin, now }: PresentedRefreshToken,
): Promise<RefreshOutcome> {
  const { audit, graceSeconds } = policy;
  const locked = await lockRefreshToken(trx, tokenHash, now);
  if (!locked) return { kind: 'refused' };
  const at = locked.now;
  const actor = { organizationId: locked.organizationId, userId: locked.userId, ...origin };
  const target = { type: 'session', id: locked.sessionId };

  const ended = endOf(locked, policy.idleHours);
  if (ended) {
    // An expired or idle session is revoked the first time it is noticed, so listings and the
    // revocation list agree with what refresh decides.
    if (ended === 'expired' || ended === 'idle') {
      await revokeSession(trx, { sessionId: locked.sessionId, reason: ended, at });
    }
    await audit.record(trx, {
      type: 'refresh',
      result: 'failure',
      actor,
      target,
      details: { reason: ended },
    });
    return { kind: 'refused' };
  }

  const child = deriveChildRefreshToken(policy.refreshDerivationKey, token);
  const user = await findUserById(trx, locked.userId);
  if (!user) return { kind: 'refused' };

  if (locked.rotatedAt === null) {
    await insertRefreshToken(trx, {
      sessionId: locked.sessionId,
      tokenHash: hashSecret(child),
      parentId: locked.tokenId,
      at,
    });
    await markTokenRotated(trx, locked.tokenId, at);
    await touchSession(trx, locked.sessionId, at);
    await audit.record(trx, { type: 'refresh', result: 'success', actor, target });
    return { kind: 'issued', token: child, locked, user: toUserView(user) };
  }

  const current = await findChildToken(trx, locked.tokenId);
  const sinceRotation = at.getTime() - new Date(locked.rotatedAt).getTime();
  if (current && current.rotated_at === null && sinceRotation <= graceSeconds * 1000) {
    // A derivation key changed since the rotation would derive another token: refuse, but
    // without treating an honest client as a thief.
    if (!secretsEqual(hashSecret(child), current.token_hash)) {
      await audit.record(trx, {
        type: 'refresh',
        result: 'failure',
        actor,
        target,
        details: { reason: 'derivation_key_changed' },
      });
      return { kind: 'refused' };
    }
    await touchSession(trx, locked.sessionId, at);
    await audit.record(trx, {
      type: 'refresh',
      result: 'success',
      actor,
      target,
      details: { graceReplay: true },
    });
    return { kind: 'issued', token: child, locked, user: toUserView(user) };
  }

  await revokeSession(trx, { sessionId: locked.sessionId, reason: 'refresh_reuse', at });
  await audit.record(trx, {
    type: 'refresh_reuse',
    result: 'failure',
    actor,
    target,
    details: {
      secondsSinceRotation: Math.round(sinceRotation / 1000),
      childCurrent: current?.rotated_at === null,
    },
  });
  return { kind: 'refused' };
}

/** Why a session can no longer be refreshed, or null while it can. */
function endOf(
  locked: LockedRefreshToken,
  idleHours: number,
): 'revoked' | 'user_disabled' | 'organization_suspended' | 'expired' | 'idle' | null {
  if (locked.sessionRevokedAt !== null) return 'revoked';
  if (locked.userDisabled) return 'user_disabled';
  if (locked.organizationSuspendedAt !== null) return 'organization_suspended';
  const at = locked.now.getTime();
  if (at >= locked.sessionExpiresAt.getTime()) return 'expired';
  if (at - new Date(locked.sessionLastUsedAt).getTime() > idleHours * 3_600_000) return 'idle';
  return null;
}
