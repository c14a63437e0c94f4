import { getTRPCErrorFromUnknown, getTRPCErrorShape, type TRPCError } from '@trpc/server';
import { Hono } from 'hono';
import type { z } from 'zod';
import type { Context } from '../context';
import type { AppDeps } from '../deps';
import type { AppEnv } from '../env';
import { secureHeaders } from '../middleware/security-headers';
import { appRouter } from '../routers/index';
import { type CallableProcedure, TrpcExchange } from '../trpc-exchange';
import { tracedCall } from '../trpc-tracing';
import { type InputLayout, inputLayoutOf } from './input-layout';
import type { RestRoute } from './route';
import { REST_ROUTES } from './routes';

/** Where the REST routes live; their paths in the routes tables are below it. */
export const REST_PREFIX = '/api/v1';

/** A procedure as tRPC's adapter calls it (`proc(opts)` in resolveResponse). */
interface Procedure extends CallableProcedure {
  _def: { type: 'query' | 'mutation'; inputs: z.ZodType[] };
}

/** A route ready to serve: its table entry, its procedure and where its input comes from. */
export interface ServedRoute {
  procedurePath: string;
  route: RestRoute;
  procedure: Procedure;
  input: InputLayout;
}

/** Every REST route with its procedure, in table order; throws when a table names no procedure. */
export function servedRoutes(): ServedRoute[] {
  const procedures = appRouter._def.procedures as unknown as Record<string, Procedure>;
  return Object.entries(REST_ROUTES as Record<string, RestRoute>).map(([procedurePath, route]) => {
    const procedure = procedures[procedurePath];
    if (!procedure)
      throw new Error(`REST route ${route.method} ${route.path}: no procedure ${procedurePath}`);
    return { procedurePath, route, procedure, input: inputLayoutOf(route, procedure._def.inputs[0]) };
  });
}

/**
 * The REST API under /api/v1: each route runs its procedure as a tRPC call does (the same
 * context, policy, rate limits, input parser, resolver, error recoding, metrics and analytics,
 * through TrpcExchange), and answers plain JSON: the output itself on success, and the platform's
 * error body `{ error: { code, message, requestId, validation } }` on failure.
 */
export function restApi(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const config = appRouter._def._config;
  for (const served of servedRoutes()) {
    const { route, procedure, procedurePath: path } = served;
    const type = procedure._def.type;
    const reported = [{ path, procedure }];
    // In a span of its own when the app traces, decided here once.
    const call = deps.tracing ? tracedCall(deps.tracing.tracer, path, type, procedure) : procedure;
    const honoPath = route.path.replace(/\{(\w+)\}/g, ':$1');

    app.on(route.method, honoPath, async (c) => {
      const exchange = new TrpcExchange(c, deps, performance.now());
      const extra = new CallHeaders();
      let ctx: Context | undefined;
      let input: unknown;
      let data: unknown;
      let error: TRPCError | undefined;
      try {
        ctx = await exchange.createContext(1, extra);
        input = await served.input.read(c);
        data = await call({
          path,
          getRawInput: async () => input,
          ctx,
          type,
          signal: c.req.raw.signal,
          batchIndex: 0,
        });
      } catch (cause) {
        error = getTRPCErrorFromUnknown(cause);
        exchange.failed(error, path);
      }
      exchange.calls.seen(reported, type);
      const headers = extra.appendTo(secureHeaders(true));
      if (error === undefined) {
        if (data === undefined) return exchange.finish(new Response(null, { status: 204, headers }));
        return exchange.finish(new Response(JSON.stringify(data), { status: route.status ?? 200, headers }));
      }
      const shape = getTRPCErrorShape({ config, ctx, error, input, path, type });
      const body = {
        error: {
          code: shape.data.code,
          message: shape.message,
          requestId: c.get('requestId'),
          ...(shape.data.traceId ? { traceId: shape.data.traceId } : {}),
          validation: shape.data.validation,
          reason: shape.data.reason,
        },
      };
      return exchange.finish(new Response(JSON.stringify(body), { status: shape.data.httpStatus, headers }));
    });
  }
  return app;
}

/** The headers a call adds to its response (Set-Cookie of a sign-in), made when one asks. */
class CallHeaders {
  private headers: Headers | undefined;

  get resHeaders(): Headers {
    this.headers ??= new Headers();
    return this.headers;
  }

  appendTo(headers: Headers): Headers {
    for (const [name, value] of this.headers?.entries() ?? []) headers.append(name, value);
    return headers;
  }
}
