import type { z } from 'zod';
import type { AuditEventPage, NamedAuditEventRow } from '../../../db/repositories/audit-events';
import { apiKeyUsageInput } from '../../../shared/api-key-usage';
import {
  apiKeyCreateInput,
  apiKeyIdInput,
  apiKeyListInput,
  apiKeyRotateInput,
  apiKeyUpdateInput,
  apiKeyVerifyInput,
  auditListInput,
  changePasswordInput,
  loginInput,
  refreshInput,
  sessionRevokeInput,
  userCreateInput,
  userIdInput,
  userListInput,
  userUpdateInput,
} from '../../../shared/auth';
import { invitationAcceptInput } from '../../../shared/organizations';
import { pageOf } from '../../../shared/pagination';
import { PlatformError } from '../../base/errors';
import type { Context } from '../context';
import { checkCsrf } from '../middleware/csrf';
import { clearedRefreshCookie, readRefreshCookie } from '../refresh-cookie';
import {
  edgeAuthenticatedProcedure,
  guardedPublicProcedure,
  platformProcedure,
  roleProcedure,
  router,
  sessionProcedure,
} from '../trpc';
import { actorOf } from './actor';
import { invitationProcedures, organizationsRouter, platformRolesRouter } from './organizations';
import { secondFactorChallengeOf, secondFactorRouter } from './second-factor';
import { deliver, limitByIp } from './sign-in';

/** The refresh token of a call: from the body, or from the cookie after a CSRF check. */
function presentedRefreshToken(ctx: Context, fromBody: string | undefined): string {
  if (fromBody) return fromBody;
  const http = ctx.http;
  const fromCookie = http ? readRefreshCookie(http.header('cookie')) : undefined;
  if (!http || !fromCookie) throw new PlatformError('UNAUTHORIZED', 'no refresh token was presented');
  const refusal = checkCsrf({
    method: 'POST',
    origin: http.header('origin') ?? undefined,
    secFetchSite: http.header('sec-fetch-site') ?? undefined,
    contentType: http.header('content-type') ?? undefined,
    host: http.host,
    allowedOrigins: ctx.deps.config.CORS_ORIGINS,
  });
  if (refusal) throw new PlatformError(refusal.code, refusal.message);
  return fromCookie;
}

const usersRouter = router({
  create: roleProcedure('admin', 'auth:write')
    .input(userCreateInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.users.create(actorOf(ctx, ctx.principal), input)),
  list: roleProcedure('admin', 'auth:read')
    .input(userListInput)
    .query(({ ctx, input }) => ctx.deps.auth.users.list(actorOf(ctx, ctx.principal), input)),
  update: roleProcedure('admin', 'auth:write')
    .input(userUpdateInput)
    .mutation(({ ctx, input: { id, ...patch } }) =>
      ctx.deps.auth.users.update(actorOf(ctx, ctx.principal), id, patch),
    ),
  disable: roleProcedure('admin', 'auth:write')
    .input(userIdInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.users.disable(actorOf(ctx, ctx.principal), input.id)),
  /** Deletes a member; their sessions end on every instance and their keys go with them. */
  remove: roleProcedure('admin', 'auth:write')
    .input(userIdInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.users.remove(actorOf(ctx, ctx.principal), input.id)),
});

/**
 * API keys. Operators and admins manage keys; an operator only their own (another user's key
 * answers FORBIDDEN), an admin any key of the organization.
 */
const apiKeysRouter = router({
  create: roleProcedure('operator', 'auth:write')
    .input(apiKeyCreateInput)
    .mutation(({ ctx, input }) => {
      const actor = actorOf(ctx, ctx.principal);
      if (input.ownerId && input.ownerId !== actor.userId && actor.role !== 'admin') {
        throw new PlatformError('FORBIDDEN', 'only an admin may create keys for another user');
      }
      return ctx.deps.auth.apiKeys.create(actor, {
        ...input,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
      });
    }),
  list: roleProcedure('operator', 'auth:read')
    .input(apiKeyListInput)
    .query(({ ctx, input }) => {
      const actor = actorOf(ctx, ctx.principal);
      // Operators see their own keys; admins everyone's, or one owner's.
      const ownerId = actor.role === 'admin' ? input.ownerId : actor.userId;
      return ctx.deps.auth.apiKeys.list(actor, { ...input, ownerId });
    }),
  get: roleProcedure('operator', 'auth:read')
    .input(apiKeyIdInput)
    .query(async ({ ctx, input }) => {
      const actor = actorOf(ctx, ctx.principal);
      return ownKey(actor, await ctx.deps.auth.apiKeys.get(actor, input.id));
    }),
  update: roleProcedure('operator', 'auth:write')
    .input(apiKeyUpdateInput)
    .mutation(async ({ ctx, input: { id, expiresAt, ...patch } }) => {
      const actor = actorOf(ctx, ctx.principal);
      ownKey(actor, await ctx.deps.auth.apiKeys.get(actor, id));
      return ctx.deps.auth.apiKeys.update(actor, id, {
        ...patch,
        ...(expiresAt !== undefined ? { expiresAt: expiresAt === null ? null : new Date(expiresAt) } : {}),
      });
    }),
  revoke: roleProcedure('operator', 'auth:write')
    .input(apiKeyIdInput)
    .mutation(async ({ ctx, input }) => {
      const actor = actorOf(ctx, ctx.principal);
      ownKey(actor, await ctx.deps.auth.apiKeys.get(actor, input.id));
      return ctx.deps.auth.apiKeys.revoke(actor, input.id);
    }),
  rotate: roleProcedure('operator', 'auth:write')
    .input(apiKeyRotateInput)
    .mutation(async ({ ctx, input }) => {
      const actor = actorOf(ctx, ctx.principal);
      ownKey(actor, await ctx.deps.auth.apiKeys.get(actor, input.id));
      return ctx.deps.auth.apiKeys.rotate(actor, input.id, { gracePeriodSeconds: input.gracePeriodSeconds });
    }),
  /** Verifications of a key over time by outcome (Unkey's usage), with the same authority as `get`. */
  usage: roleProcedure('operator', 'auth:read')
    .input(apiKeyUsageInput)
    .query(async ({ ctx, input }) => {
      const actor = actorOf(ctx, ctx.principal);
      ownKey(actor, await ctx.deps.auth.apiKeys.get(actor, input.id));
      return ctx.deps.auth.apiKeys.usage(actor, input.id, input.range);
    }),
  /** Unkey's verify: the code a key would get, spending its rate limits and uses as a call would. */
  verify: roleProcedure('operator', 'auth:read')
    .input(apiKeyVerifyInput)
    .mutation(async ({ ctx, input }) => {
      // A key of another organization is, to this caller, a key that does not exist: it is
      // answered NOT_FOUND before any of its limits or uses are spent.
      const result = await ctx.deps.auth.apiKeys.verify(input.key, {
        scope: input.scope,
        organizationId: ctx.principal.organizationId,
      });
      if (result.code === 'NOT_FOUND') return { valid: false, code: 'NOT_FOUND' as const };
      return {
        valid: result.code === 'VALID',
        code: result.code,
        keyId: result.keyId ?? null,
        ownerId: result.principal?.userId ?? null,
        scopes: result.principal ? [...result.principal.scopes] : [],
        remaining: result.remaining ?? null,
        rateLimit: result.rateLimit ?? null,
      };
    }),
});

/** An audit event as the API shows it, named by who did it and what it was done to. */
function toAuditEventView(row: NamedAuditEventRow) {
  return {
    id: String(row.id),
    type: row.type,
    result: row.result,
    actorUserId: row.actor_user_id,
    actorApiKeyId: row.actor_api_key_id,
    actorName: row.actor_name || null,
    actorEmail: row.actor_email,
    actorApiKeyName: row.actor_api_key_name,
    targetType: row.target_type,
    targetId: row.target_id,
    targetName: targetNameOf(row),
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details,
    createdAt: row.created_at.toISOString(),
  };
}

function targetNameOf(row: NamedAuditEventRow): string | null {
  if (row.target_user_email) return row.target_user_name || row.target_user_email;
  if (row.target_deployment_service)
    return `${row.target_deployment_service} ${row.target_deployment_version}`;
  return row.target_api_key_name ?? row.target_environment_name ?? row.target_organization_name ?? null;
}

/** The audit list's filters as the repository takes them. */
function auditQuery(input: z.infer<typeof auditListInput>): AuditEventPage {
  return {
    limit: input.limit + 1,
    before: input.cursor,
    type: input.type,
    actorUserId: input.actorUserId,
    actorApiKeyId: input.actorApiKeyId,
    since: input.since === undefined ? undefined : new Date(input.since),
    until: input.until === undefined ? undefined : new Date(input.until),
  };
}

/** A key of another user is the admin's business only. */
function ownKey<K extends { ownerId: string }>(actor: { userId: string; role: string }, key: K): K {
  if (key.ownerId !== actor.userId && actor.role !== 'admin') {
    throw new PlatformError('FORBIDDEN', "only an admin may manage another user's keys");
  }
  return key;
}

export const authRouter = router({
  /**
   * Email and password for an access token and a refresh token (a new session), or the challenge
   * of the second step for a user with a second factor (see `secondFactor.verify`).
   */
  login: guardedPublicProcedure.input(loginInput).mutation(async ({ ctx, input }) => {
    await limitByIp(ctx, 'login');
    const result = await ctx.deps.auth.sessions.signIn({
      email: input.email,
      password: input.password,
      ip: ctx.http?.ip() ?? null,
      userAgent: ctx.http?.userAgent() ?? null,
    });
    if (result.kind === 'challenge') return secondFactorChallengeOf(result.challenge);
    return { ...deliver(ctx, result.issued), user: result.issued.user };
  }),

  /** A refresh token for a new access token and the next refresh token (rotation). */
  refresh: guardedPublicProcedure.input(refreshInput).mutation(async ({ ctx, input }) => {
    await limitByIp(ctx, 'refresh');
    const issued = await ctx.deps.auth.sessions.refresh({
      refreshToken: presentedRefreshToken(ctx, input?.refreshToken),
      ip: ctx.http?.ip() ?? null,
      userAgent: ctx.http?.userAgent() ?? null,
    });
    return deliver(ctx, issued);
  }),

  /** Ends this session: its refresh token stops working and its access tokens are refused. */
  logout: sessionProcedure.mutation(async ({ ctx }) => {
    await ctx.deps.auth.sessions.logout(actorOf(ctx, ctx.principal));
    // This instance refuses the session's tokens from the next request on; the others within
    // moments, through the revocation trigger and the change feed.
    ctx.deps.auth.revokedSessions.add(ctx.principal.sessionId);
    ctx.http?.resHeaders.append('Set-Cookie', clearedRefreshCookie());
    return { ok: true as const };
  }),

  /** Ends every session of the caller, on every device. */
  logoutAll: sessionProcedure.mutation(async ({ ctx }) => {
    const revoked = await ctx.deps.auth.sessions.logoutAll(actorOf(ctx, ctx.principal));
    ctx.http?.resHeaders.append('Set-Cookie', clearedRefreshCookie());
    return { ok: true as const, revoked };
  }),

  /** Who the caller is: the user, and for an API key the key's id and scopes. */
  me: edgeAuthenticatedProcedure.query(({ ctx }) => {
    const p = ctx.principal;
    return {
      kind: p.kind,
      userId: p.userId,
      organizationId: p.organizationId,
      role: p.role,
      platformRole: p.platformRole,
      sessionId: p.kind === 'user' ? p.sessionId : null,
      apiKeyId: p.kind === 'apiKey' ? p.keyId : null,
      scopes: p.kind === 'apiKey' ? [...p.scopes] : null,
    };
  }),

  /** Changes the caller's password and ends their other sessions. */
  changePassword: sessionProcedure.input(changePasswordInput).mutation(async ({ ctx, input }) => {
    await ctx.deps.auth.users.changePassword(actorOf(ctx, ctx.principal), input);
    return { ok: true as const };
  }),

  sessions: router({
    list: sessionProcedure.query(({ ctx }) => ctx.deps.auth.sessions.list(ctx.principal)),
    revoke: sessionProcedure.input(sessionRevokeInput).mutation(async ({ ctx, input }) => {
      await ctx.deps.auth.sessions.revoke(actorOf(ctx, ctx.principal), input.id);
      ctx.deps.auth.revokedSessions.add(input.id);
      return { ok: true as const };
    }),
  }),

  users: usersRouter,
  apiKeys: apiKeysRouter,
  organizations: organizationsRouter,
  platformRoles: platformRolesRouter,
  secondFactor: secondFactorRouter,
  invitations: router({
    ...invitationProcedures,
    /** Joins an organization with an invitation's token: one answer for every unusable token. */
    accept: guardedPublicProcedure.input(invitationAcceptInput).mutation(async ({ ctx, input }) => {
      await limitByIp(ctx, 'login');
      return ctx.deps.auth.invitations.accept({
        ...input,
        ip: ctx.http?.ip() ?? null,
        userAgent: ctx.http?.userAgent() ?? null,
      });
    }),
  }),

  audit: router({
    list: roleProcedure('admin', 'auth:read')
      .input(auditListInput)
      .query(async ({ ctx, input }) => {
        const query = auditQuery(input);
        const rows = await ctx.deps.database.read((db) =>
          ctx.deps.auth.audit.list(db, ctx.principal.organizationId, query),
        );
        return pageOf(rows, input.limit, toAuditEventView, (row) => String(row.id));
      }),
    /** The platform's own log: actions on the installation and its organizations. */
    platform: platformProcedure('operator', 'auth:read')
      .input(auditListInput)
      .query(async ({ ctx, input }) => {
        const query = auditQuery(input);
        const rows = await ctx.deps.database.read((db) => ctx.deps.auth.audit.listPlatform(db, query));
        return pageOf(rows, input.limit, toAuditEventView, (row) => String(row.id));
      }),
  }),

  /** JWT signing keys: rotation makes a new key sign at once; old ones verify until their tokens expire. */
  keys: router({
    rotate: platformProcedure('admin', 'auth:write').mutation(async ({ ctx }) => {
      const rotated = await ctx.deps.auth.keyring.rotate();
      await ctx.deps.database.transaction(async (db) => {
        // Other instances load the new key now, rather than at their next maintenance run.
        await ctx.deps.auth.changes.publish(db, 'signing_key_changes', rotated.kid);
        await ctx.deps.auth.audit.record(db, {
          scope: 'platform',
          type: 'signing_key_rotated',
          result: 'success',
          actor: actorOf(ctx, ctx.principal),
          target: { type: 'signing_key', id: rotated.kid },
          details: { previousKid: rotated.previousKid },
        });
      });
      return rotated;
    }),
  }),
});
