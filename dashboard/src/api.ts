import { createClient, errorDetails, sessionOf } from '@beauty-crafter/client';

/**
 * The dashboard's connection to the platform: the client's browser session. The access token
 * lives in the client's memory only; the refresh token is an HttpOnly cookie that no script can
 * read. The client renews the access token itself, once for any number of calls refused at the
 * same time (two refreshes with one rotating cookie would look like theft and end the session).
 */
let onSignedOut: () => void = () => {};

export const client = createClient({
  url: window.location.origin,
  credentials: 'cookie',
  onSessionEnded: () => onSignedOut(),
});
const session = sessionOf(client)!;

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export function isSignedIn(): boolean {
  return session.tokens() !== null;
}

/**
 * Whether the refresh cookie of an earlier visit still holds a session: the first call renews
 * the access token from it, or ends the session (and the page asks to sign in).
 */
export async function resumeSession(): Promise<boolean> {
  try {
    await client.auth.me.query();
    return true;
  } catch {
    return false;
  }
}

export async function login(email: string, password: string): Promise<void> {
  await session.login({ email, password });
}

/** Ends the session on the server; the session's end then brings back the login page. */
export function logout(): Promise<void> {
  return session.logout();
}

/** A message for people: the server's message and its request id, or the error's own text. */
export function describeError(error: unknown): string {
  const details = errorDetails(error);
  if (details)
    return details.requestId ? `${details.message} (request ${details.requestId})` : details.message;
  return error instanceof Error ? error.message : String(error);
}
