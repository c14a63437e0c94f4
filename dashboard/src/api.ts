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
  onSessionEnded: () => {
    me = null;
    onSignedOut();
  },
});
const session = sessionOf(client)!;

/**
 * Calls made before anyone signs in (accepting an invitation): without a session, so asking
 * never spends or ends one (a session's first call would try the refresh cookie).
 */
export const anonymousClient = createClient({ url: window.location.origin });

export type Me = Awaited<ReturnType<typeof client.auth.me.query>>;
/** Who is signed in, read once per session: the navigation and the pages decide what to draw by it. */
let me: Promise<Me> | null = null;

export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

export function isSignedIn(): boolean {
  return session.tokens() !== null;
}

/** The signed-in user (role, platform role), asked once per session. */
export function whoAmI(): Promise<Me> {
  if (!me) {
    const asked = client.auth.me.query();
    me = asked;
    // A failed answer is not kept: the next page asks again.
    asked.catch(() => {
      if (me === asked) me = null;
    });
  }
  return me;
}

/**
 * Whether the user holds a platform role of at least `minimum`: platform pages (status, backups,
 * performance, alerts, organizations) are drawn only for them, since the server refuses everyone
 * else, whatever their role in their organization.
 */
export function holdsPlatformRole(who: Me, minimum: 'operator' | 'admin'): boolean {
  return who.platformRole === 'admin' || (minimum === 'operator' && who.platformRole === 'operator');
}

const ROLE_RANK: Record<Me['role'], number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether the user's organization role is at least `minimum` (what the server's role policies ask). */
export function holdsRole(who: Me, minimum: Me['role']): boolean {
  return ROLE_RANK[who.role] >= ROLE_RANK[minimum];
}

/**
 * Whether the refresh cookie of an earlier visit still holds a session: the first call renews
 * the access token from it, or ends the session (and the page asks to sign in).
 */
export async function resumeSession(): Promise<boolean> {
  try {
    await whoAmI();
    return true;
  } catch {
    return false;
  }
}

export async function login(email: string, password: string): Promise<void> {
  me = null;
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

/**
 * Every item of a paged list (`{ items, nextCursor }`, docs/api.md), page after page of 100, up
 * to `max` items: what a table that shows the whole list reads.
 */
export async function allPages<T>(
  page: (input: { limit: number; cursor?: string }) => Promise<{ items: T[]; nextCursor: string | null }>,
  max: number,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const next: { items: T[]; nextCursor: string | null } = await page(
      cursor ? { limit: 100, cursor } : { limit: 100 },
    );
    items.push(...next.items);
    cursor = next.nextCursor;
  } while (cursor && items.length < max);
  return items;
}
