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
 * Times and counts every call by procedure path and result code, and turns database failures
 * that a retry later could fix into SERVICE_UNAVAILABLE instead of a 500.
 */
const observed = t.middleware(async function observeProcedure({ ctx, path, type, next }) {
  const started = performance.now();
  const result = await next();
  // Counted with the code the caller receives, so a failure this middleware re-codes is not
  // counted as INTERNAL_SERVER_ERROR while the caller got another code.
  const replacement = result.ok ? null : recode(result.error);
  const code = result.ok ? 'OK' : (replacement ?? result.error).code;
  ctx.deps.metrics.trpc.duration.observe(
    `${path} ${type} ${code}`,
    () => [path, type, code],
    (performance.now() - started) / 1000,
  );
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

/** Anyone may call it. */
export const publicProcedure = t.procedure.use(observed);

/** Admin only: until users and roles exist, the caller must present the admin token. */
export const adminProcedure = publicProcedure.use(function requireAdmin({ ctx, next }) {
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
