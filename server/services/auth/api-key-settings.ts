import type { ApiKeyChanges } from '../../../db/repositories/api-keys';
import { PlatformError } from '../../base/errors';
import type { UpdateApiKeyInput } from './api-key-types';

/** Ids are uuids: anything else is answered as unknown before PostgreSQL's uuid cast can fail on it. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor for the page after the key created at `createdAt` (with microseconds) with `id`. */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(JSON.stringify([createdAt, id]), 'utf8').toString('base64url');
}

const EXACT_TIMESTAMP = /^(\d{4})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * A real instant in the shape encodeCursor writes: `2026-99-99T99:99:99.000000Z` has the shape,
 * and PostgreSQL's timestamptz cast would fail on it (a 500) if it got that far.
 */
function exactInstant(text: string): boolean {
  const match = EXACT_TIMESTAMP.exec(text);
  if (!match || Number(match[1]) < 1) return false;
  const milliseconds = `${text.slice(0, 23)}Z`;
  const parsed = new Date(milliseconds);
  // Date normalises overflowing fields (Feb 30 becomes Mar 2): the round trip catches them.
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString() === milliseconds;
}

/** Where a cursor from `encodeCursor` points; BAD_REQUEST for any other string. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  let decoded: unknown = null;
  // An issued cursor is about 100 characters of base64url: anything else is refused undecoded.
  if (/^[A-Za-z0-9_-]{1,400}$/.test(cursor)) {
    try {
      decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    } catch {
      decoded = null;
    }
  }
  if (
    Array.isArray(decoded) &&
    decoded.length === 2 &&
    typeof decoded[0] === 'string' &&
    exactInstant(decoded[0]) &&
    typeof decoded[1] === 'string' &&
    UUID.test(decoded[1])
  )
    return { createdAt: decoded[0], id: decoded[1] };
  throw new PlatformError('BAD_REQUEST', 'the cursor is not one this service issued');
}

const RATE_LIMIT_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/**
 * Checks settings as far as the database and the rate limiter need them to make sense, and
 * returns them as column values; only the given ones. The procedures' schemas are stricter
 * (known scopes); this guards callers that skip them.
 */
export function checkSettings(input: UpdateApiKeyInput): ApiKeyChanges {
  const bad = (message: string) => new PlatformError('BAD_REQUEST', message);
  const out: ReturnType<typeof checkSettings> = {};
  if (input.name !== undefined) {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) throw bad('name must be 1 to 200 characters');
    out.name = name;
  }
  if (input.scopes !== undefined) {
    if (
      input.scopes.length > 64 ||
      input.scopes.some((s) => typeof s !== 'string' || s.length === 0 || s.length > 100)
    )
      throw bad('scopes must be at most 64 strings of 1 to 100 characters');
    out.scopes = [...new Set(input.scopes)];
  }
  if (input.expiresAt !== undefined) {
    if (input.expiresAt !== null && Number.isNaN(input.expiresAt.getTime()))
      throw bad('expiresAt is not a date');
    out.expires_at = input.expiresAt;
  }
  if (input.remaining !== undefined) {
    if (
      input.remaining !== null &&
      (!Number.isInteger(input.remaining) || input.remaining < 0 || input.remaining > 2_147_483_647)
    )
      throw bad('remaining must be a non-negative integer or null');
    out.remaining = input.remaining;
  }
  if (input.rateLimits !== undefined) {
    const names = new Set<string>();
    for (const limit of input.rateLimits) {
      if (!RATE_LIMIT_NAME.test(limit.name) || names.has(limit.name))
        throw bad('rate limit names must be distinct: 1 to 32 lower-case letters, digits, _ and -');
      if (
        !Number.isInteger(limit.limit) ||
        limit.limit < 1 ||
        !Number.isInteger(limit.periodMs) ||
        limit.periodMs < 1
      )
        throw bad('a rate limit needs a positive integer limit and periodMs');
      names.add(limit.name);
    }
    if (input.rateLimits.length > 5) throw bad('a key has at most 5 rate limits');
    out.rate_limits = input.rateLimits.map(({ name, limit, periodMs }) => ({ name, limit, periodMs }));
  }
  if (input.enabled !== undefined) out.enabled = input.enabled;
  return out;
}
