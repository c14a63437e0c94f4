import { PlatformError } from '../../base/errors';

/** ASVS 5.0 V6.2.1: at least 8 characters (15 strongly recommended; the procedure may ask more). */
export const MIN_PASSWORD_LENGTH = 8;

const MAX_EMAIL_LENGTH = 254;
const MAX_NAME_LENGTH = 200;

/** Lower-case and trimmed: the form emails are stored, looked up and throttled by. */
export function canonicalEmail(email: string): string {
  return typeof email === 'string' ? email.trim().toLowerCase() : '';
}

/** The canonical form of an email, or BAD_REQUEST when it is not shaped like one. */
export function normaliseEmail(email: string): string {
  const normalised = canonicalEmail(email);
  if (normalised.length > MAX_EMAIL_LENGTH || !/^[^\s@]+@[^\s@]+$/.test(normalised)) {
    throw new PlatformError('BAD_REQUEST', 'not an email address');
  }
  return normalised;
}

/** A name trimmed; BAD_REQUEST when longer than allowed. Empty is allowed. */
export function checkName(name: string): string {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (trimmed.length > MAX_NAME_LENGTH) {
    throw new PlatformError('BAD_REQUEST', `a name is at most ${MAX_NAME_LENGTH} characters`);
  }
  return trimmed;
}

/** An organization's name: checked like any name, and not empty. */
export function checkOrganizationName(name: string): string {
  const checked = checkName(name);
  if (checked === '') throw new PlatformError('BAD_REQUEST', 'an organization needs a name');
  return checked;
}

/** The cursor for the page after `email` in a listing by email. */
// Opaque to clients, so the ordering behind it may change without breaking them.
export function encodeCursor(email: string): string {
  return Buffer.from(email, 'utf8').toString('base64url');
}

/**
 * The email a cursor from `encodeCursor` stands for; BAD_REQUEST for any other string: one that
 * is not base64url, or not of an email in the form users are stored in (so also never a NUL,
 * which PostgreSQL text cannot hold).
 */
export function decodeCursor(cursor: string): string {
  const email = Buffer.from(cursor, 'base64url').toString('utf8');
  if (cursor === '' || encodeCursor(email) !== cursor || !isStoredEmail(email))
    throw new PlatformError('BAD_REQUEST', 'the cursor is not one this service issued');
  return email;
}

function isStoredEmail(text: string): boolean {
  return (
    text.length <= MAX_EMAIL_LENGTH &&
    canonicalEmail(text) === text &&
    /^[^\s@]+@[^\s@]+$/.test(text) &&
    !/\p{Cc}/u.test(text)
  );
}
