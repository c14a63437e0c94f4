import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { AmbiguousCommitError } from '../../db/connect';
import { isTransientError } from '../../db/retry';
import type { ApiKeyScope, PlatformRole } from '../../shared/auth';
import { PlatformError } from '../base/errors';
import {
  type Principal,
  platformRoleAtLeast,
  type Role,
  roleAtLeast,
  type UserPrincipal,
} from '../base/principal';
import { activeTraceId } from '../base/tracing/context';
import type { Context } from './context';
import { isOrigin, servedByOrigin } from './site';
import { API_KEY_POLICY, rateLimited } from './trpc-rate-limit';

/**
 * Where a procedure acts (docs/security.md, "Two levels of authority"):
 * - public: nowhere in particular, for anyone (health, sign-in);
 * - organization: inside the caller's organization only; another organization's ids behave
 *   exactly like ids that do not exist;
 * - platform: the installation itself (drain, maintenance, whole-database backups, signing keys,
 *   process-wide figures, organizations); only platform roles act here, whatever their
 *   organization role.
 */
export type ProcedureScope = 'public' | 'organization' | 'platform';

/**
 * Who may call a procedure. Every procedure declares one (a test walks the router to make sure):
 * - public: anyone;
 * - authenticated: any signed-in user or API key, whatever the role or scopes;
 * - session: a signed-in user (an access token); API keys are refused (e.g. changing a password);
 * - role: a user whose organization role is at least `role`, or an API key carrying `scope` whose
 *   owner's role is at least `role` (a key never does more than its owner could);
 * - platform: a user whose platform role is at least `role`, or an API key carrying `scope` whose
 *   owner holds that platform role.
 */
export type Policy =
  | { kind: 'public' }
  | { kind: 'authenticated' }
  | { kind: 'session' }
  | { kind: 'role'; role: Role; scope: ApiKeyScope }
  | { kind: 'platform'; role: PlatformRole; scope: ApiKeyScope };

export interface Meta {
  scope: ProcedureScope;
  policy: Policy;
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    // Never send stack traces, whatever NODE_ENV says.
    isDev: false,
    errorFormatter({ shape, error, ctx }) {
      const internal = error.code === 'INTERNAL_SERVER_ERROR';
      const validation = error.cause instanceof z.ZodError ? error.cause : null;
      return {
        ...shape,
        // An internal error's message may hold SQL or driver details: callers get a generic one.
        // A validation error's own message is zod's issue list as a JSON dump: callers get one
        // readable line, and the issues themselves in data.validation.
        message: internal
          ? 'Internal server error'
          : validation
            ? validationMessage(validation)
            : shape.message,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          requestId: ctx?.requestId ?? null,
          // Only when the request is traced: the shape callers knew stays as it was otherwise.
          ...traceIdField(),
          validation: validation ? z.flattenError(validation) : null,
          reason: error.cause instanceof PlatformError ? (error.cause.reason ?? null) : null,
        },
      };
    },
  });

/**
 * The error a failure should reach the caller as, when not the one thrown: database failures a
 * retry later could fix become SERVICE_UNAVAILABLE instead of a 500, and a PlatformError thrown
 * by a service keeps its code (they share tRPC's names).
 */
function recode(error: TRPCError): TRPCError | null {
  const cause = error.cause;
  if (cause instanceof AmbiguousCommitError) {
    return new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: cause.message, cause });
  }
  if (error.code === 'INTERNAL_SERVER_ERROR' && isTransientError(cause)) {
    return new TRPCError({
      code: 'SERVICE_UNAVAILABLE',
      message: 'the database is unavailable, retry later',
      cause,
    });
  }
  if (error.code === 'INTERNAL_SERVER_ERROR' && cause instanceof PlatformError) {
    return new TRPCError({ code: cause.code, message: cause.message, cause });
  }
  return null;
}

/** `{ traceId }` of the request's trace, or nothing: read only when an error is formatted. */
function traceIdField(): { traceId?: string } {
  const traceId = activeTraceId();
  return traceId === undefined ? {} : { traceId };
}

/** Zod's issues as one line: `text: Too small: expected string to have >=1 characters; ...`. */
function validationMessage(error: z.ZodError): string {
  const shown = error.issues.slice(0, 10).map((issue) => {
    const where = issue.path.map(String).join('.');
    return where ? `${where}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length > shown.length ? ` (and ${error.issues.length - shown.length} more)` : '';
  return `invalid input: ${shown.join('; ')}${more}`;
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Anyone may call it, at the origin and at the edge. No middleware: a tRPC middleware level costs
 * ~8 µs a request even when empty, and the procedures built on it (health, info) neither reach
 * the database nor fail transiently. Public procedures that do reach the database use
 * `guardedPublicProcedure`.
 */
export const publicProcedure = t.procedure.meta({ scope: 'public', policy: { kind: 'public' } });

/** Anyone may call it; database failures are recoded as for every other policy. */
export const guardedPublicProcedure = withPolicy<null>('public', { kind: 'public' });

/** Any signed-in user or API key, acting on themselves in their organization. */
export const authenticatedProcedure = withPolicy<Principal>('organization', { kind: 'authenticated' });

/** A signed-in user with an access token, whatever the role; never an API key. */
export const sessionProcedure = withPolicy<UserPrincipal>('organization', { kind: 'session' });

/**
 * Organization scope: a user with at least `role` in their organization, or an API key with
 * `scope` whose owner has at least `role`.
 */
export function roleProcedure(role: Role, scope: ApiKeyScope) {
  return withPolicy<Principal>('organization', { kind: 'role', role, scope });
}

/**
 * Platform scope: a user holding at least the platform role `role`, or an API key with `scope`
 * whose owner holds it. A tenant's admin gets FORBIDDEN, whatever his organization role.
 */
export function platformProcedure(role: PlatformRole, scope: ApiKeyScope) {
  return withPolicy<Principal>('platform', { kind: 'platform', role, scope });
}

/**
 * `authenticatedProcedure` for a procedure served at the edge as well as the origin: it reads
 * only `RequestDeps` (the edge builds no other service).
 */
export const edgeAuthenticatedProcedure = withEdgePolicy<Principal>('organization', {
  kind: 'authenticated',
});

/** `roleProcedure` for a procedure served at the edge as well as the origin (reads `RequestDeps`). */
export function edgeRoleProcedure(role: Role, scope: ApiKeyScope) {
  return withEdgePolicy<Principal>('organization', { kind: 'role', role, scope });
}

/**
 * A procedure of the origin that enforces `policy` and recodes failures, in one middleware level
 * (each level costs a few microseconds, and API-key calls are the hot path the benchmark
 * measures). Elsewhere (the edge) it is refused before anything runs. `P` is the principal type
 * the policy guarantees to the procedure, which reads the origin's services from `ctx.deps`.
 */
function withPolicy<P extends Principal | null>(scope: ProcedureScope, policy: Policy) {
  return t.procedure.meta({ scope, policy }).use(async function enforcePolicy({ ctx, next, type, path }) {
    const { deps } = ctx;
    if (!isOrigin(deps)) {
      const refusal = servedByOrigin(path);
      throw new TRPCError({ code: refusal.code, message: refusal.message, cause: refusal });
    }
    const principal = await admit<P>(ctx, policy, type, path);
    // tRPC merges this into the context: no copy of the whole object per call.
    return settled(await next({ ctx: { principal, deps } }));
  });
}

/** `withPolicy` for a procedure that runs wherever the request does, on `RequestDeps` alone. */
function withEdgePolicy<P extends Principal | null>(scope: ProcedureScope, policy: Policy) {
  return t.procedure.meta({ scope, policy }).use(async function enforcePolicy({ ctx, next, type, path }) {
    const principal = await admit<P>(ctx, policy, type, path);
    return settled(await next({ ctx: { principal } }));
  });
}

/** The caller, admitted by maintenance and the policy; refusals as tRPC errors of their own code. */
async function admit<P extends Principal | null>(
  ctx: Context,
  policy: Policy,
  type: string,
  path: string,
): Promise<P> {
  try {
    if (ctx.deps.maintenance?.refuses(type, path)) throw inMaintenance(ctx.deps.maintenance);
    return (policy.kind === 'public' ? null : await authorize(ctx, policy)) as P;
  } catch (error) {
    // authorize() throws PlatformErrors; give them tRPC's code of the same name.
    throw recode(error instanceof TRPCError ? error : asTrpcError(error)) ?? error;
  }
}

/** A call's result, its failure recoded as the caller should see it (see `recode`). */
function settled<R extends { ok: true } | { ok: false; error: TRPCError }>(result: R): R {
  const replacement = result.ok ? null : recode(result.error);
  if (replacement) throw replacement;
  return result;
}

/**
 * Who the caller is, checked against the policy. The principal given in the context (in-process
 * callers) is trusted; over HTTP it comes from the request's credential. Users are rate limited
 * per user here; API keys by their own limits inside verification.
 */
async function authorize(ctx: Context, policy: Exclude<Policy, { kind: 'public' }>): Promise<Principal> {
  let principal = ctx.principal;
  if (!principal) {
    const credential = ctx.http?.credential() ?? null;
    if (!credential) {
      throw new PlatformError('UNAUTHORIZED', 'this procedure needs an access token or an API key', {
        'WWW-Authenticate': 'Bearer realm="beauty-crafter"',
      });
    }
    const { authenticator } = ctx.deps.auth;
    if (credential.kind === 'apiKey') {
      const scope = policy.kind === 'role' || policy.kind === 'platform' ? policy.scope : undefined;
      const authenticated = await authenticator.apiKey(credential.value, scope);
      if (authenticated.rateLimit)
        ctx.http?.rateLimits.push({
          policy: API_KEY_POLICY,
          decision: authenticated.rateLimit,
          allowed: true,
        });
      principal = authenticated.principal;
    } else {
      principal = await ctx.http!.accessToken(credential.value);
      const outcome = await ctx.deps.rateLimiter.check('user', `user:${principal.userId}`);
      ctx.http?.rateLimits.push({ policy: 'user', decision: outcome.decision, allowed: outcome.allowed });
      if (!outcome.allowed) throw rateLimited(outcome.decision?.retryAfterMs);
    }
  }
  if (policy.kind === 'session' && principal.kind !== 'user') {
    throw new PlatformError('FORBIDDEN', 'this procedure needs a signed-in user; API keys cannot call it');
  }
  if (policy.kind === 'role' && !roleAtLeast(principal.role, policy.role)) {
    throw new PlatformError('FORBIDDEN', `this procedure needs the ${policy.role} role or above`);
  }
  if (policy.kind === 'platform' && !platformRoleAtLeast(principal.platformRole, policy.role)) {
    throw new PlatformError(
      'FORBIDDEN',
      `this procedure acts on the platform and needs the platform ${policy.role} role or above`,
    );
  }
  if (
    policy.kind === 'platform' &&
    principal.kind === 'user' &&
    principal.secondFactor !== true &&
    ctx.deps.config.AUTH_PLATFORM_REQUIRE_SECOND_FACTOR
  ) {
    throw new PlatformError(
      'FORBIDDEN',
      'this procedure acts on the platform and needs a session signed in with a second factor',
      {},
      'SECOND_FACTOR_REQUIRED',
    );
  }
  return principal;
}

/** The refusal of a mutation in maintenance: 503 with the operator's message and Retry-After. */
function inMaintenance(maintenance: NonNullable<Context['deps']['maintenance']>): PlatformError {
  const { message, retryAfterSeconds } = maintenance.current();
  return new PlatformError('SERVICE_UNAVAILABLE', `in maintenance: ${message}`, {
    'Retry-After': String(retryAfterSeconds),
  });
}

function asTrpcError(error: unknown): TRPCError {
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: error });
}
