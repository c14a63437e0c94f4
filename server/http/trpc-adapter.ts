import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { RequestDeps } from './deps';
import type { AppContext } from './env';
import { appRouter } from './routers/index';
import { TrpcExchange } from './trpc-exchange';
import { tracedRouter } from './trpc-tracing';

/**
 * Serves a tRPC request through tRPC's own fetch adapter: every request the single-call path
 * (trpc-single-call.ts) leaves to it (batches, streaming, other content types and methods,
 * unknown or encoded paths), and every request when that path is switched off.
 */
export function trpcAdapter(deps: RequestDeps, endpoint: string) {
  // Each procedure in a span of its own when the app traces; the router itself otherwise.
  const router = tracedRouter(appRouter, deps.tracing);
  return async function serveThroughAdapter(c: AppContext): Promise<Response> {
    const exchange = new TrpcExchange(c, deps, performance.now());
    let beforeContext = false;
    const response = await fetchRequestHandler({
      endpoint,
      req: c.req.raw,
      router,
      createContext: (opts) => exchange.createContext(opts.info.calls.length, opts),
      maxBatchSize: deps.config.TRPC_MAX_BATCH_SIZE,
      onError: ({ error, path }) => exchange.failed(error, path),
      responseMeta: ({ info, errors }) => {
        exchange.calls.seen(info?.calls, info?.type);
        // tRPC has no request info (and so no context) when it rejects a request before reading
        // it: a batch over TRPC_MAX_BATCH_SIZE, a missing or unsupported content type, a badly
        // encoded path.
        if (!info && errors.length > 0) beforeContext = true;
        return {};
      },
    });
    exchange.finish(response);
    if (beforeContext) return withRequestId(response, exchange, true);
    // The context refused (the per-address limit): tRPC formatted the calls' errors without it.
    return exchange.contextRefused ? withRequestId(response, exchange, false) : response;
  };
}

/**
 * An error tRPC formatted without a context carries `requestId: null`: give it (each call's of a
 * batch) this request's id, as the single-call path does (TrpcExchange.withRequestId). Before
 * the context tRPC also builds it with a text/plain content type (`asJson`): say it is JSON.
 */
async function withRequestId(response: Response, exchange: TrpcExchange, asJson: boolean): Promise<Response> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Response(text, response);
  }
  for (const item of Array.isArray(body) ? body : [body]) {
    const error = (item as { error?: unknown } | null)?.error;
    if (error) exchange.withRequestId(error);
  }
  const headers = new Headers(response.headers);
  if (asJson) headers.set('content-type', 'application/json');
  return new Response(JSON.stringify(body), { status: response.status, headers });
}
