import {
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  TRPCError,
  type TRPCError as TRPCErrorType,
} from '@trpc/server';
import { getHTTPStatusCode } from '@trpc/server/http';
import { middlewareMarker } from '@trpc/server/unstable-core-do-not-import';
import type { Context } from './context';
import type { RequestDeps } from './deps';
import type { AppContext } from './env';
import { secureHeaders } from './middleware/security-headers';
import { appRouter } from './routers/index';
import { type CallableProcedure, TrpcExchange } from './trpc-exchange';
import { tracedCall } from './trpc-tracing';

/**
 * The hot path of the API: one tRPC call, not batched (a query by GET with `?input=` or none, a
 * mutation by POST with a JSON body or none), taken from the request straight to its procedure.
 *
 * tRPC's fetch adapter (`resolveResponse`) serves every shape of request: it parses the URL twice,
 * builds a request description with a promise per call, combines abort signals, runs
 * `Promise.all` over the calls and asks `responseMeta` for headers; a third of the platform's
 * cost per call on its hot path. Here the procedure is found in a map built once, the context
 * is made once, and the procedure (its middlewares: the policy, the input parser, the resolver)
 * runs through tRPC's own procedure caller, so that what a procedure sees is what the adapter
 * gives it. The answer is tRPC's to the byte: its wire format (no transformer), its error shape
 * through the router's `errorFormatter`, its status codes and headers, the same `onError`
 * (TrpcExchange.failed), the same metrics; tests/integration/trpc-fast-path.test.ts compares
 * the two paths request by request.
 *
 * Whether a request takes this path is decided from the request alone, before anything runs:
 * anything else (batches, streaming, HEAD and other methods, other content types, encoded or
 * unknown paths, subscriptions) goes to tRPC's adapter, and a call that ran is never run again.
 */
export function singleCallDispatcher(deps: RequestDeps, endpoint: string) {
  const config = appRouter._def._config;
  const tracer = deps.tracing?.tracer;
  const procedures = new Map<string, Entry>();
  for (const [path, procedure] of Object.entries(
    appRouter._def.procedures as unknown as Record<string, Procedure>,
  )) {
    const type = procedure._def.type;
    // Subscriptions stream over SSE: tRPC's adapter serves them (the router has none today).
    if (type === 'subscription') continue;
    const run = middlewareChain(procedure, path, type);
    procedures.set(path, {
      path,
      type,
      procedure,
      // In a span of its own when the app traces, decided here once.
      run: tracer ? tracedCall(tracer, path, type, run) : run,
      method: type === 'mutation' ? 'POST' : 'GET',
      reported: [{ path, procedure }],
    });
  }
  const prefix = `${endpoint}/`;
  /**
   * tRPC's `transformTRPCResponse` of one item, written out: `{ result: { data } }` or
   * `{ error }` through the router's output transformer, the same keys in the same order, without
   * the bundled spread helper's copies of the item (see middlewareChain).
   */
  const serialize = (value: unknown): unknown => config.transformer.output.serialize(value);

  /**
   * The response of a single call, or null when the request is not one this path serves (then
   * nothing of it has run: hand it to tRPC's adapter).
   */
  return function dispatchSingleCall(c: AppContext): Promise<Response> | null {
    const req = c.req.raw;
    const method = req.method;
    if (method !== 'GET' && method !== 'POST') return null;
    const url = req.url;
    // The path as Hono finds it (no URL object): from the first `/` after the scheme to `?`.
    const start = url.indexOf('/', url.indexOf(':') + 4);
    if (!url.startsWith(prefix, start)) return null;
    const query = url.indexOf('?', start);
    // A procedure's name never holds `%` or `/`: an encoded or longer path is not in the map.
    const entry = procedures.get(url.slice(start + prefix.length, query === -1 ? url.length : query));
    if (entry === undefined) return null;
    const headers = req.headers;
    const contentType = headers.get('content-type');
    if (method === 'POST' ? !isJson(contentType) : contentType !== null && !isJson(contentType)) return null;
    if (streamingAccepted(headers)) return null;
    let input: string | null = null;
    if (query !== -1 && query < url.length - 1) {
      if (url.includes('#', query)) return null;
      const params = new URLSearchParams(url.slice(query + 1));
      if (params.has('batch') || params.has('connectionParams')) return null;
      if (method === 'GET') input = params.get('input');
    }
    return callProcedure(new TrpcExchange(c, deps, performance.now()), req, entry, input);
  };

  async function callProcedure(
    exchange: TrpcExchange,
    req: Request,
    entry: Entry,
    queryInput: string | null,
  ): Promise<Response> {
    const { path, type } = entry;
    const extra = new ExtraHeaders();
    const input =
      req.method === 'GET'
        ? queryInput
          ? new RawInput(queryInput, null)
          : NO_INPUT
        : new RawInput(null, req);
    // As resolveResponse: the context is made once, before the call; its refusal (the
    // per-address limit) is the call's error, as is a wrong method, which is checked first.
    let ctx: Context | undefined;
    let refusal: TRPCErrorType | undefined;
    try {
      ctx = await exchange.createContext(1, extra);
    } catch (cause) {
      refusal = getTRPCErrorFromUnknown(cause);
    }
    let headers: Headers | undefined;
    try {
      let error: TRPCErrorType | undefined;
      let data: unknown;
      try {
        if (req.method !== entry.method) {
          // A 405 names the methods the procedure accepts (RFC 9110 §15.5.6).
          headers = new Headers(ALLOW[type]);
          throw new TRPCError({
            code: 'METHOD_NOT_SUPPORTED',
            message: `Unsupported ${req.method}-request to ${type} procedure at path "${path}"`,
          });
        }
        if (refusal) throw refusal;
        data = await entry.run(ctx!, input.read, req);
      } catch (cause) {
        error = getTRPCErrorFromUnknown(cause);
        exchange.failed(error, path);
      }
      if (error === undefined && isDataStream(data)) {
        throw new TRPCError({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
        });
      }
      if (error === undefined) {
        exchange.calls.seen(entry.reported, type);
        headers = extra.appendTo(headers);
        const body = JSON.stringify({ result: { data: serialize(data) } });
        return exchange.finish(new Response(body, { status: 200, headers: headers ?? JSON_HEADERS }));
      }
      const answer = {
        error: exchange.withRequestId(
          getTRPCErrorShape({ config, ctx, error, input: input.result(), path, type }),
        ),
      };
      const status = getHTTPStatusCode(answer as never, [error]);
      exchange.calls.seen(entry.reported, type);
      headers = extra.appendTo(headers);
      const body = JSON.stringify({ error: serialize(answer.error) });
      return exchange.finish(new Response(body, { status, headers: headers ?? JSON_HEADERS }));
    } catch (cause) {
      // What fails around the call (a result only a stream can carry, one that cannot be
      // serialized) fails the request, as in resolveResponse: an error without a path, the
      // headers gathered so far, and the call's own headers once more.
      const error = getTRPCErrorFromUnknown(cause);
      exchange.failed(error, undefined);
      const answer = {
        error: exchange.withRequestId(
          getTRPCErrorShape({ config, ctx, error, input: undefined, path: undefined, type }),
        ),
      };
      const body = JSON.stringify({ error: serialize(answer.error) });
      const status = getHTTPStatusCode(answer as never, [error]);
      exchange.calls.seen(entry.reported, type);
      headers = extra.appendTo(headers);
      return exchange.finish(new Response(body, { status, headers: headers ?? JSON_HEADERS }));
    }
  }
}

/** What the dispatcher knows of a procedure of the router, built once. */
interface Entry {
  path: string;
  type: 'query' | 'mutation';
  procedure: Procedure;
  /** Runs the procedure as tRPC's caller would (see middlewareChain). */
  run: Run;
  /** The only method tRPC accepts for it (no method override). */
  method: 'GET' | 'POST';
  /** The request's calls as tRPC's `responseMeta` reports them, for the metrics. */
  reported: readonly { path: string; procedure: unknown }[];
}

/** A procedure of the router as tRPC's adapter calls it (`proc(opts)` in resolveResponse). */
interface Procedure extends CallableProcedure {
  _def: {
    type: 'query' | 'mutation' | 'subscription';
    meta?: unknown;
    middlewares?: readonly Middleware[];
    experimental_caller?: boolean;
  };
}

type MiddlewareResult = { ok: boolean; data?: unknown; error?: TRPCErrorType; marker: unknown };
type NextOptions = { ctx?: object; input?: unknown; getRawInput?: () => Promise<unknown> };
type Middleware = (opts: CallOptions) => Promise<MiddlewareResult>;
/** How the dispatcher runs a procedure: its context, its raw input, the request (for `signal`). */
type Run = (ctx: Context, getRawInput: () => Promise<unknown>, req: Request) => Promise<unknown>;

/**
 * What a middleware (the policy, the input parser, the resolver) receives: the properties tRPC's
 * `callRecursive` gives it (`path`, `getRawInput`, `ctx`, `type`, `signal`, `batchIndex`,
 * `input`, `meta`, `next`), all own properties but `signal`, a getter of the class.
 *
 * A class rather than `{ ...opts, meta, input, next }`: on Node 20, objects made by spreading
 * one per request outlived young-generation collections (V8's object-clone path), and with
 * them everything they reference, the request's context included: about 0.7 KB a request
 * promoted to the old generation, full collections every 3 s at 20k requests a second, and
 * Node's p99 at 4x its p50. Built field by field, they die young as tRPC's own copies do.
 *
 * `signal` is the request's, read when a procedure asks for it (none does today): on
 * @hono/node-server reading it makes an AbortController per request, whose signal (a Node
 * EventTarget) was the other half of what each request left in the old generation.
 */
class CallOptions {
  readonly #req: Request;
  constructor(
    readonly path: string,
    readonly getRawInput: () => Promise<unknown>,
    readonly ctx: Context,
    readonly type: 'query' | 'mutation',
    req: Request,
    readonly batchIndex: number,
    readonly input: unknown,
    readonly meta: unknown,
    readonly next: (nextOpts?: NextOptions) => Promise<MiddlewareResult>,
  ) {
    this.#req = req;
  }

  get signal(): AbortSignal | undefined {
    return this.#req.signal;
  }
}

/**
 * The procedure's caller, as tRPC's `createProcedureCaller` and `callRecursive` are (@trpc/server
 * 11, initTRPC): its middlewares in order, each given the options with `meta`, `input` and
 * `next`, `next` merging the context a middleware passes on into a copy of the current one, a
 * throw becoming a failed result, and a failed result thrown. tRPC makes each options object with
 * its bundled `_objectSpread2` helper (Object.keys, getOwnPropertySymbols, filter and
 * defineProperty per copy, three copies per middleware level), which cost the API-key path (one
 * level more than a public procedure) more than its whole key verification; here each is one
 * CallOptions. A procedure tRPC would call differently (an `experimental_caller`, a shape this
 * code does not know) keeps tRPC's own caller.
 */
function middlewareChain(procedure: Procedure, path: string, type: 'query' | 'mutation'): Run {
  const def = procedure._def;
  const middlewares = def.middlewares;
  if (def.experimental_caller || !Array.isArray(middlewares) || middlewares.length === 0) {
    return (ctx, getRawInput, req) =>
      procedure({ path, getRawInput, ctx, type, signal: req.signal, batchIndex: 0 });
  }
  const meta = def.meta;
  const call = async (
    index: number,
    ctx: Context,
    getRawInput: () => Promise<unknown>,
    input: unknown,
    req: Request,
  ): Promise<MiddlewareResult> => {
    try {
      const next = (nextOpts?: NextOptions): Promise<MiddlewareResult> =>
        call(
          index + 1,
          nextOpts?.ctx ? ({ ...ctx, ...nextOpts.ctx } as Context) : ctx,
          nextOpts?.getRawInput ?? getRawInput,
          nextOpts && 'input' in nextOpts ? nextOpts.input : input,
          req,
        );
      return await middlewares[index]!(
        new CallOptions(path, getRawInput, ctx, type, req, 0, input, meta, next),
      );
    } catch (cause) {
      return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker };
    }
  };
  return async (ctx, getRawInput, req) => {
    const result = await call(0, ctx, getRawInput, undefined, req);
    if (!result) {
      throw new TRPCError({
        code: 'INTERNAL_SERVER_ERROR',
        message: 'No result from middlewares - did you forget to `return next()`?',
      });
    }
    if (!result.ok) throw result.error;
    return result.data;
  };
}

/**
 * tRPC's own headers on top of the pre-built block of security headers, so the observing
 * middleware finds the block and adds nothing (one copy per response instead of eight sets).
 * Never handed out: a Response copies the Headers it is given.
 */
const JSON_HEADERS = secureHeaders(true);
JSON_HEADERS.set('vary', 'trpc-accept, accept');
const ALLOW: Record<Entry['type'], Headers> = {
  query: withHeader(JSON_HEADERS, 'allow', 'GET'),
  mutation: withHeader(JSON_HEADERS, 'allow', 'POST'),
};

function withHeader(base: Headers, name: string, value: string): Headers {
  const headers = new Headers(base);
  headers.set(name, value);
  return headers;
}

/**
 * The call's raw input, read when its input parser asks and once, as tRPC's JSON content
 * handler reads it: `?input=` of a GET, the body of a POST (empty: no input). A failure to read
 * or parse is the call's BAD_REQUEST with the parser's message, raised only if the procedure
 * takes an input.
 */
class RawInput {
  private value: { input: unknown } | undefined;
  private pending: Promise<{ input: unknown }> | undefined;

  constructor(
    private readonly query: string | null,
    private readonly req: Request | null,
  ) {}

  readonly read = async (): Promise<unknown> => {
    if (this.value !== undefined) return this.value.input;
    this.pending ??= this.load().catch((cause) => {
      if (cause instanceof TRPCError) throw cause;
      throw new TRPCError({
        code: 'BAD_REQUEST',
        message: cause instanceof Error ? cause.message : 'Invalid input',
        cause,
      });
    });
    this.value = await this.pending;
    this.pending = undefined;
    return this.value.input;
  };

  /** The input once read, for the error formatter (tRPC's `call.result()`). */
  result(): unknown {
    return this.value?.input;
  }

  private async load(): Promise<{ input: unknown }> {
    const text = this.req ? await this.req.text() : this.query;
    if (!text) return { input: undefined };
    return { input: appRouter._def._config.transformer.input.deserialize(JSON.parse(text)) };
  }
}

/** A GET without `?input=`: nothing to read, one object for every such call. */
const NO_INPUT = {
  read: async (): Promise<unknown> => undefined,
  result: (): unknown => undefined,
};

/** tRPC's test: the media type, case-insensitive, before any parameter (RFC 9110 §8.3.1). */
function isJson(contentType: string | null): boolean {
  return contentType?.toLowerCase().split(';', 1)[0]?.trim() === 'application/json';
}

/**
 * Whether the caller asked for a JSON-lines stream (tRPC's `getAcceptHeader`), which tRPC serves
 * only to batches: its adapter answers that.
 */
function streamingAccepted(headers: Headers): boolean {
  const trpcAccept = headers.get('trpc-accept');
  if (trpcAccept !== null) return trpcAccept === 'application/jsonl';
  return headers.get('accept')?.includes('application/jsonl') ?? false;
}

/**
 * The headers a call adds to its response (`ctx.http.resHeaders`: Set-Cookie of a sign-in),
 * made only when a call asks for them: most calls set none.
 */
class ExtraHeaders {
  private headers: Headers | undefined;

  get resHeaders(): Headers {
    this.headers ??= new Headers();
    return this.headers;
  }

  /**
   * `headers` (the response's so far, tRPC's when undefined) with these appended, as tRPC's
   * adapter appends them; undefined while there is nothing to add to tRPC's own.
   */
  appendTo(headers: Headers | undefined): Headers | undefined {
    if (this.headers === undefined) return headers;
    const all = headers ?? new Headers(JSON_HEADERS);
    for (const [name, value] of this.headers.entries()) all.append(name, value);
    return all;
  }
}

/**
 * tRPC's `isDataStream`: a result only a streaming link can carry (an async iterable, promises, or
 * an async iterable as one of its values). One pass over the own enumerable values, as
 * `Object.values` lists them, without making the list.
 */
function isDataStream(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (Symbol.asyncIterator in value) return true;
  let iterable = false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const v = value[key];
    if (isPromise(v)) return true;
    if (!iterable && isObject(v) && Symbol.asyncIterator in v) iterable = true;
  }
  return iterable;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

function isPromise(value: unknown): boolean {
  return (
    (isObject(value) || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function' &&
    typeof (value as { catch?: unknown }).catch === 'function'
  );
}
