import { Secret, TOTP } from 'otpauth';

/**
 * Time-based one-time passwords (RFC 6238) as authenticator apps expect them: HMAC-SHA-1, six
 * digits, 30-second steps (the defaults of Google Authenticator, 1Password, Aegis...). otpauth
 * computes the codes; what a code may be used for (once, within ±1 step) is decided here.
 */

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of now a code may be from: ±30 s of clock skew (RFC 6238 §5.2 advises one). */
export const TOTP_WINDOW = 1;
// RFC 4226 §4 asks for at least 128 bits and recommends 160: SHA-1's block-size-friendly length.
const SECRET_BYTES = 20;

const CODE = /^\d{6}$/;

/** A new random secret, base32 (what authenticator apps are given). */
export function newTotpSecret(): string {
  return new Secret({ size: SECRET_BYTES }).base32;
}

function totpOf(secret: string | Uint8Array, digits = TOTP_DIGITS, account = '', issuer = ''): TOTP {
  return new TOTP({
    issuer,
    label: account,
    algorithm: 'SHA1',
    digits,
    period: TOTP_PERIOD_SECONDS,
    secret:
      typeof secret === 'string' ? Secret.fromBase32(secret) : new Secret({ buffer: secret.slice().buffer }),
  });
}

/** The `otpauth://totp/…` URI an authenticator app reads from the QR code. */
export function totpUri({
  secret,
  issuer,
  account,
}: {
  secret: string;
  issuer: string;
  account: string;
}): string {
  return totpOf(secret, TOTP_DIGITS, account, issuer).toString();
}

/** The code of `secret` at `at` (tests, and RFC 6238's vectors with `digits` 8). */
export function totpCode(secret: string | Uint8Array, at: Date, digits = TOTP_DIGITS): string {
  return totpOf(secret, digits).generate({ timestamp: at.getTime() });
}

/** The time step (unix seconds / 30) `at` falls in. */
export function totpStep(at: Date): number {
  return Math.floor(at.getTime() / 1000 / TOTP_PERIOD_SECONDS);
}

/**
 * The time step a code belongs to, if it is the code of a step within ±`TOTP_WINDOW` of `at`,
 * else null. Whether that step was already used is the caller's check (one code, one use).
 */
export function matchTotp(secret: string, code: string, at: Date): number | null {
  if (!CODE.test(code)) return null;
  const delta = totpOf(secret).validate({ token: code, timestamp: at.getTime(), window: TOTP_WINDOW });
  return delta === null ? null : totpStep(at) + delta;
}
