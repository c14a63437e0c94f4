/** A response read whole: its text, and its body parsed as JSON when it is JSON (else null). */
export interface Answer {
  res: Response;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: bodies are inspected field by field
  body: any;
}

/** Anything that answers `request(path, init)` as Hono's `app.request` does. */
export interface RequestTarget {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

/** Sends one request in process and reads the answer whole. */
export async function send(app: RequestTarget, path: string, init?: RequestInit): Promise<Answer> {
  const res = await app.request(path, init);
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  return { res, text, body };
}

/** A tRPC call's answer: its HTTP status, the tRPC error code (null on success) and the result data. */
export interface ProcedureAnswer {
  status: number;
  code: string | null;
  /** The error's message, or null on success. */
  message: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected field by field
  data: any;
  text: string;
}

/**
 * Calls a procedure over HTTP as a client does, unbatched: a query by GET with its input in the
 * query string, a mutation by POST with its input as the JSON body.
 */
export async function callProcedure(
  app: RequestTarget,
  path: string,
  type: 'query' | 'mutation' | 'subscription',
  input: unknown,
  headers: Record<string, string> = {},
): Promise<ProcedureAnswer> {
  const { res, text, body } =
    type === 'query'
      ? await send(
          app,
          `/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`,
          { headers },
        )
      : await send(app, `/api/trpc/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: input === undefined ? undefined : JSON.stringify(input),
        });
  return {
    status: res.status,
    code: body?.error?.data?.code ?? null,
    message: body?.error?.message ?? null,
    data: body?.result?.data,
    text,
  };
}
