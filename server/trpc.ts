import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { AmbiguousCommitError } from '../db/connect';
import { isTransientError } from '../db/retry';
import type { Context } from './context';

const t = initTRPC.context<Context>().create({
  // Never send stack traces, whatever NODE_ENV says.
  isDev: false,
  errorFormatter({ shape, error, ctx }) {
    const internal = error.code === 'INTERNAL_SERVER_ERROR';
    return {
      ...shape,
      // An internal error's message may hold SQL or driver details: callers get a generic one.
      message: internal ? 'Internal server error' : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        requestId: ctx?.requestId ?? null,
        validation: error.cause instanceof z.ZodError ? z.flattenError(error.cause) : null,
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
  const code = result.ok ? 'OK' : result.error.code;
  const labels = { procedure: path, type, code };
  ctx.deps.metrics.trpc.calls.inc(labels);
  ctx.deps.metrics.trpc.duration.observe(labels, (performance.now() - started) / 1000);
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof AmbiguousCommitError) {
      throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: cause.message, cause });
    }
    if (result.error.code === 'INTERNAL_SERVER_ERROR' && isTransientError(cause)) {
      throw new TRPCError({
        code: 'SERVICE_UNAVAILABLE',
        message: 'the database is unavailable, retry later',
        cause,
      });
    }
  }
  return result;
});

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
