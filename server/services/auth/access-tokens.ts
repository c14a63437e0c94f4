import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose';
import { KID_PATTERN, type SigningKeyHandle, type VerificationKeys } from './signing-keys';

/** What the platform puts in an access token besides the registered claims. */
export interface AccessTokenClaims {
  /** The user id. */
  sub: string;
  /** The organisation the token acts in. */
  org: string;
  role: string;
  /** The platform role, when the user has one (absent: none). */
  prole?: string;
  /** The session (refresh-token family) the token was issued under, so revoking it can be checked. */
  sid?: string;
  /** Space-separated scopes (RFC 8693 §4.2). */
  scope?: string;
  /** How the user authenticated (RFC 8176 names: `pwd`, `otp`). */
  amr?: string[];
  /** The assurance level reached: `aal1` (a password), `aal2` (and a second factor). */
  acr?: string;
}

/** The claims of a verified access token. */
export interface VerifiedAccessToken extends AccessTokenClaims {
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
  jti: string;
}

export interface SignOptions {
  issuer: string;
  audience: string;
  /** Lifetime in seconds; 900 by default. */
  ttlSeconds?: number;
  /** The issuing time; the clock by default. */
  now?: Date;
}

export interface VerifyOptions {
  issuer: string;
  audience: string;
  /** Allowed clock skew between issuer and verifier for exp, nbf and iat; 0 by default. */
  clockToleranceSeconds?: number;
  /** The verifying time; the clock by default. */
  now?: Date;
}

/** RFC 9068 §2.1: distinguishes access tokens from ID tokens, refresh tokens and any other JWT. */
export const ACCESS_TOKEN_TYPE = 'at+jwt';

/** Larger tokens are refused before any decoding: ours are well under 1 KiB. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

// A ttl above a day is almost certainly milliseconds passed as seconds.
const MAX_TTL_SECONDS = 86_400;

/** Why a token was refused: a closed set, so it can label a metric as well as a log line. */
export type InvalidTokenReason =
  | 'malformed'
  | 'too_large'
  | 'forbidden_header'
  | 'bad_kid'
  | 'unknown_kid'
  | 'alg_not_allowed'
  | 'wrong_typ'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'missing_claim'
  | 'invalid_claim';

/**
 * Every refused token throws this with the same message, so the response (one identical 401)
 * tells a prober nothing; `reason` is for logs and metrics only and must not reach the client.
 */
export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';

  constructor(
    readonly reason: InvalidTokenReason,
    options?: { cause?: unknown },
  ) {
    super('invalid access token', options);
  }
}

/** Signs an access token: header `{ alg, kid, typ: 'at+jwt' }`, claims iss, aud, sub, iat, exp, jti. */
export async function signAccessToken(
  claims: AccessTokenClaims,
  key: SigningKeyHandle,
  { issuer, audience, ttlSeconds = 900, now = new Date() }: SignOptions,
): Promise<string> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
    throw new RangeError(`ttlSeconds must be a whole number from 1 to ${MAX_TTL_SECONDS}`);
  }
  for (const name of ['sub', 'org', 'role'] as const) {
    if (typeof claims[name] !== 'string' || claims[name] === '') {
      throw new TypeError(`claim ${name} is required`);
    }
  }
  const iat = Math.floor(now.getTime() / 1000);
  // Claims are copied by name: a caller's object can never set iss, exp or any other claim.
  const payload = {
    org: claims.org,
    role: claims.role,
    prole: claims.prole,
    sid: claims.sid,
    scope: claims.scope,
    amr: claims.amr,
    acr: claims.acr,
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(claims.sub)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key.privateKey);
}

// Only what we sign with. Everything else — jku, x5u, x5c, jwk (keys the token would choose for
// itself), crit, b64, cty — is refused rather than ignored.
const ALLOWED_HEADER = new Set(['alg', 'kid', 'typ']);

// Three non-empty base64url segments: no stripped signature, no JWE, no whitespace or padding.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verifies an access token against known public keys and returns its claims, or throws
 * `InvalidTokenError`. The key is chosen by kid alone, and the token's alg must be that key's alg.
 */
export async function verifyAccessToken(
  token: string,
  keys: VerificationKeys,
  { issuer, audience, clockToleranceSeconds = 0, now = new Date() }: VerifyOptions,
): Promise<VerifiedAccessToken> {
  // A bad option is the caller's bug, not a bad token: it must not hide behind a 401.
  if (!Number.isFinite(clockToleranceSeconds) || clockToleranceSeconds < 0) {
    throw new RangeError('clockToleranceSeconds must be a number of seconds, 0 or more');
  }
  if (typeof token !== 'string') throw new InvalidTokenError('malformed');
  if (token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('too_large');
  if (!COMPACT_JWS.test(token)) throw new InvalidTokenError('malformed');

  const header = readHeader(token);
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER.has(name)) throw new InvalidTokenError('forbidden_header');
  }
  if (typeof header.kid !== 'string' || !KID_PATTERN.test(header.kid)) throw new InvalidTokenError('bad_kid');
  const key = keys.get(header.kid);
  if (!key) throw new InvalidTokenError('unknown_kid');
  if (header.alg !== key.alg) throw new InvalidTokenError('alg_not_allowed');
  if (header.typ !== ACCESS_TOKEN_TYPE && header.typ !== `application/${ACCESS_TOKEN_TYPE}`) {
    throw new InvalidTokenError('wrong_typ');
  }

  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      typ: ACCESS_TOKEN_TYPE,
      issuer,
      audience,
      clockTolerance: clockToleranceSeconds,
      currentDate: now,
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    }));
  } catch (error) {
    throw new InvalidTokenError(reasonOf(error), { cause: error });
  }

  // jose checks iat only against a maximum age; a token from the future means a skewed or forged issuer.
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number') throw new InvalidTokenError('invalid_claim');
  if (iat > now.getTime() / 1000 + clockToleranceSeconds) throw new InvalidTokenError('issued_in_future');
  return claimsOf(payload);
}

function readHeader(token: string): Record<string, unknown> {
  try {
    return decodeProtectedHeader(token) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidTokenError('malformed', { cause: error });
  }
}

function claimsOf(payload: Record<string, unknown>): VerifiedAccessToken {
  const { iss, aud, sub, org, role, prole, sid, scope, amr, acr, iat, exp, jti } = payload;
  const text = (value: unknown) => typeof value === 'string' && value !== '';
  if (!text(sub) || !text(jti) || !text(iss)) throw new InvalidTokenError('invalid_claim');
  if (!text(org) || !text(role)) throw new InvalidTokenError('missing_claim');
  if (
    (sid !== undefined && !text(sid)) ||
    (scope !== undefined && typeof scope !== 'string') ||
    (prole !== undefined && prole !== 'operator' && prole !== 'admin') ||
    (amr !== undefined && !(Array.isArray(amr) && amr.every((m) => typeof m === 'string'))) ||
    (acr !== undefined && acr !== 'aal1' && acr !== 'aal2')
  ) {
    throw new InvalidTokenError('invalid_claim');
  }
  const claims = { iss, aud, sub, org, role, iat, exp, jti } as VerifiedAccessToken;
  if (sid !== undefined) claims.sid = sid as string;
  if (scope !== undefined) claims.scope = scope as string;
  if (prole !== undefined) claims.prole = prole as string;
  if (amr !== undefined) claims.amr = amr as string[];
  if (acr !== undefined) claims.acr = acr as string;
  return claims;
}

function reasonOf(error: unknown): InvalidTokenReason {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return 'missing_claim';
    switch (error.claim) {
      case 'iss':
        return 'wrong_issuer';
      case 'aud':
        return 'wrong_audience';
      case 'nbf':
        return 'not_yet_valid';
      case 'typ':
        return 'wrong_typ';
      default:
        return 'invalid_claim';
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  return 'malformed';
}
