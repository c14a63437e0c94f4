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
