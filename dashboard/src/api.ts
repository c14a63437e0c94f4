import { createClient, errorDetails } from '@beauty-crafter/client';

/**
 * The dashboard's connection to the platform. The access token lives in memory only; the
 * refresh token is an HttpOnly cookie the browser sends to /api/trpc, so no script can read it.
 */
let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
let onSignedOut: () => void = () => {};

export const client = createClient({
  url: window.location.origin,
  headers: (): Record<string, string> => (accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
  // The refresh cookie must go with every call (auth.refresh batched with others included).
  fetch: (input, init) => fetch(input, { ...init, credentials: 'include' }),
});

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export function isSignedIn(): boolean {
  return accessToken !== null;
}

export async function login(email: string, password: string): Promise<void> {
  const result = await client.auth.login.mutate({ email, password });
  accessToken = result.accessToken;
}

export async function logout(): Promise<void> {
  try {
    await client.auth.logout.mutate();
  } finally {
    accessToken = null;
  }
}

/**
 * One refresh for any number of calls that found the token expired at once: two refreshes with
 * the same cookie would look like a stolen token to the server and end the session.
 */
export function refresh(): Promise<boolean> {
  refreshing ??= client.auth.refresh
    .mutate({})
    .then((result) => {
      accessToken = result.accessToken;
      return true;
    })
    .catch(() => {
      accessToken = null;
      return false;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** Runs a call; on UNAUTHORIZED refreshes the access token once and tries again. */
export async function call<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (errorDetails(error)?.code !== 'UNAUTHORIZED') throw error;
    if (!(await refresh())) {
      onSignedOut();
      throw error;
    }
    return run();
  }
}

/** A message for people: the server's message and its request id, or the error's own text. */
export function describeError(error: unknown): string {
  const details = errorDetails(error);
  if (details)
    return details.requestId ? `${details.message} (request ${details.requestId})` : details.message;
  return error instanceof Error ? error.message : String(error);
}
