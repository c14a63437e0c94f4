import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { AmbiguousCommitError } from '../db/connect';
import { isTransientError } from '../db/retry';
import type { Context } from './context';
import { PlatformError } from './errors';

const t = initTRPC.context<Context>().create({
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
        validation: validation ? z.flattenError(validation) : null,
      },
    };
  },
});

/**
 * Turns failures a retry later could fix into SERVICE_UNAVAILABLE instead of a 500, and lets a
 * PlatformError thrown by a service keep its code. Every procedure that reaches the database is
 * built on it (adminProcedure here; the authenticated procedures later). Procedure metrics are
 * recorded at the adapter (services/monitoring/procedure-calls.ts), not here.
 */
const guarded = t.middleware(async function recodeFailures({ next }) {
  const result = await next();
  const replacement = result.ok ? null : recode(result.error);
  if (replacement) throw replacement;
  return result;
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
 * Anyone may call it. No middleware: a tRPC middleware level costs ~8 µs a request even when
 * empty, and the public procedures (health, info) neither need recoding nor fail transiently.
 */
export const publicProcedure = t.procedure;

/** Admin only: until users and roles exist, the caller must present the admin token. */
export const adminProcedure = t.procedure.use(guarded).use(function requireAdmin({ ctx, next }) {
  if (!ctx.hasCredentials) {
    throw new TRPCError({
      code: 'UNAUTHORIZED',
      message: 'this procedure needs the admin token as a bearer token',
    });
  }
  if (!ctx.isAdmin) {
    throw new TRPCError({ code: 'FORBIDDEN', message: 'the bearer token is not the admin token' });
  }
  return next({ ctx: { ...ctx, isAdmin: true as const } });
});
