import { NetworkError, parseRetryAfter, UnexpectedResponseError } from './errors';

/**
 * The fetch a client may be given: the global one of browsers, Node or Bun, or a test's
 * in-process app (`(input, init) => app.request(input, init)`).
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response> | Response;

/**
 * Wraps fetch so that the failures tRPC's links would blur become distinct errors: a fetch that
 * threw becomes a NetworkError (nothing was received), and a failed answer that is not JSON (a
 * proxy's 502 page) an UnexpectedResponseError carrying its status and Retry-After, where tRPC
 * would only report that the body did not parse. `overrides` are added to every request
 * (`credentials: 'include'` for the calls that need the refresh cookie).
 */
export function platformFetch(custom: FetchLike | undefined, overrides: RequestInit = {}) {
  return async function fetchForPlatform(
    input: RequestInfo | URL | string,
    init?: RequestInit,
  ): Promise<Response> {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const request: RequestInit = { ...init, ...overrides };
    let response: Response;
    try {
      // The global fetch is looked up per call, so a polyfill installed later is still used.
      response = await (custom ? custom(url, request) : globalThis.fetch(url, request));
    } catch (cause) {
      // An abort is the caller's doing, not the network's.
      if (request.signal?.aborted) throw cause;
      throw new NetworkError(cause);
    }
    if (!response.ok && !isJson(response.headers.get('content-type'))) {
      // Release the connection: nobody will read this body.
      response.body?.cancel().catch(() => {});
      throw new UnexpectedResponseError(
        response.status,
        parseRetryAfter(response.headers.get('retry-after')),
        response.headers.get('x-request-id'),
      );
    }
    return response;
  };
}

function isJson(contentType: string | null): boolean {
  return contentType !== null && /\bjson\b/i.test(contentType);
}
