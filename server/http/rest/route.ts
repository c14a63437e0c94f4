import type { AnyProcedure, AnyRouter, inferRouterOutputs } from '@trpc/server';
import type { z } from 'zod';
import type { AppRouter } from '../routers/index';

/**
 * A procedure's plain REST route under /api/v1 (docs/api.md, "REST"): the same procedure, run by
 * the same policy, input parser and resolver as its tRPC call, reached by a method and a path a
 * partner can call with curl, and described in /api/openapi.json.
 *
 * `path` holds `{name}` for each path parameter; a path parameter is a field of the procedure's
 * input. The other fields are query parameters (GET, DELETE) or the JSON body (POST, PATCH, PUT).
 */
export interface RestRoute<Output = unknown> {
  method: RestMethod;
  /** Below /api/v1, e.g. `/api-keys/{id}`. */
  path: string;
  /** One line for the reference: what the route does. */
  summary: string;
  /** More, when one line is not enough (Markdown). */
  description?: string;
  /**
   * The success body's schema. Its type must be the procedure's output type (checked by the
   * compiler through `restRoutes`), and answers are checked against it by the conformance tests.
   */
  output: z.ZodType<Output>;
  /** 201 for a route that creates a resource; 200 otherwise. */
  status?: 200 | 201;
  /**
   * Refusals the route may answer beyond those every route of its kind declares (400, 429, 503;
   * 401 and 403 when it needs a credential; 404 with path parameters; 409 for a change; 413 and
   * 415 with a body), e.g. 401 of a public route that takes a token in its body.
   */
  refusals?: readonly Refusal[];
}

/** The refusals a REST route may declare, by tRPC code (their HTTP status is tRPC's). */
export type Refusal =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'GATEWAY_TIMEOUT';

export type RestMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** Every procedure's dotted path, e.g. `auth.apiKeys.get`. */
export type ProcedurePath = PathsOf<AppRouter['_def']['record']>;

type PathsOf<R, Prefix extends string = ''> = {
  [K in keyof R & string]: R[K] extends AnyProcedure
    ? `${Prefix}${K}`
    : R[K] extends AnyRouter
      ? PathsOf<R[K]['_def']['record'], `${Prefix}${K}.`>
      : PathsOf<R[K], `${Prefix}${K}.`>;
}[keyof R & string];

/** What the procedure at `P` answers, as its caller receives it (JSON: dates as strings). */
export type OutputOf<P extends string> = At<inferRouterOutputs<AppRouter>, P>;

type At<T, P extends string> = P extends `${infer Head}.${infer Rest}`
  ? Head extends keyof T
    ? At<T[Head], Rest>
    : never
  : P extends keyof T
    ? T[P]
    : never;

/**
 * A table of REST routes keyed by procedure path. The compiler checks each key is a procedure
 * and each route's `output` schema describes what that procedure answers.
 */
export function restRoutes<
  T extends { [P in keyof T]: P extends ProcedurePath ? RestRoute<OutputOf<P>> : never },
>(routes: T): T {
  return routes;
}
