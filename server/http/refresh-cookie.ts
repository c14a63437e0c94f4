import { parse, serialize } from 'hono/utils/cookie';

/**
 * The refresh token of browser clients travels in this cookie, never in a body their scripts
 * can read. HttpOnly keeps it from scripts (XSS), SameSite=Strict and our CSRF check keep other
 * sites from using it, Secure keeps it off plain HTTP (browsers make an exception for localhost).
 * Path /api/trpc: a batch URL such as /api/trpc/auth.refresh,system.info must still carry it.
 */
export const REFRESH_COOKIE = 'bc_refresh';
const PATH = '/api/trpc';

export function refreshCookie(token: string, expiresAt: Date, now = Date.now()): string {
  return serialize(REFRESH_COOKIE, token, {
    httpOnly: true,
    secure: true,
    sameSite: 'Strict',
    path: PATH,
    maxAge: Math.max(0, Math.floor((expiresAt.getTime() - now) / 1000)),
  });
}

export function clearedRefreshCookie(): string {
  return serialize(REFRESH_COOKIE, '', {
    httpOnly: true,
    secure: true,
    sameSite: 'Strict',
    path: PATH,
    maxAge: 0,
  });
}

/** The refresh token in a Cookie header, if any. */
export function readRefreshCookie(cookieHeader: string | null): string | undefined {
  if (!cookieHeader) return undefined;
  return parse(cookieHeader, REFRESH_COOKIE)[REFRESH_COOKIE];
}

/**
 * Whether the caller is a browser: every current browser sends Sec-Fetch-Site with fetch() and
 * navigations, and other HTTP clients do not. Browsers get the refresh token as a cookie; other
 * clients in the body, as they cannot use a Secure cookie over plain HTTP anyway.
 */
export function isBrowser(secFetchSite: string | null): boolean {
  return secFetchSite !== null;
}
