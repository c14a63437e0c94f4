import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt cost: N = 2^ln (CPU and memory), r (block size), p (parallelism). */
export interface ScryptParams {
  ln: number;
  r: number;
  p: number;
}

/**
 * OWASP Password Storage Cheat Sheet, scrypt section (2023 revision; re-check when revisiting):
 * "a minimum CPU/memory cost parameter of (2^17), a minimum block size of 8 (1024 bytes), and a
 * parallelization parameter of 1".
 * https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
 * That is 128 MiB and, where this was written, about 0.4 s of one libuv thread per hash.
 */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ ln: 17, r: 8, p: 1 });

/** Longest password accepted, in UTF-8 bytes: long passphrases fit, megabyte bodies do not. */
export const MAX_PASSWORD_BYTES = 1024;

// 16 random bytes make salt collisions negligible. The cheat sheet fixes no key length; 32 bytes
// is the output of the PBKDF2-HMAC-SHA-256 step scrypt ends with, and more adds nothing here.
const SALT_BYTES = 16;
const KEY_BYTES = 32;

// Node's default maxmem is 32 MiB; OpenSSL needs 128 * r * (N + p + 2) bytes, just over 128 MiB
// for the defaults. The ceiling also bounds what a stored string can make us allocate.
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;

// PHC string format (https://github.com/P-H-C/phc-string-format), spelled as passlib does for
// scrypt. The parameters travel with each hash, so they can be raised without a migration.
const STORED_HASH =
  /^\$scrypt\$ln=([1-9]\d?),r=([1-9]\d{0,2}),p=([1-9]\d{0,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;
const MIN_STORED_SALT_BYTES = 8;
const MIN_STORED_KEY_BYTES = 16;
const MAX_STORED_BYTES = 64;

// A lone UTF-16 surrogate turns into U+FFFD on the way to UTF-8, so distinct inputs would collide.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Why a password cannot be hashed. */
export type PasswordRejection = 'empty' | 'too_long' | 'not_unicode';

const REJECTION_MESSAGES: Record<PasswordRejection, string> = {
  empty: 'The password is empty.',
  too_long: `The password is longer than ${MAX_PASSWORD_BYTES} bytes.`,
  not_unicode: 'The password is not valid Unicode text.',
};

/** A password the hasher refuses; `reason` says why, and the message is safe to show the user. */
export class PasswordPolicyError extends Error {
  override name = 'PasswordPolicyError';

  constructor(readonly reason: PasswordRejection) {
    super(REJECTION_MESSAGES[reason]);
  }
}

/** The outcome of checking a password; `needsRehash` is only ever true when `ok` is. */
export interface PasswordCheck {
  ok: boolean;
  /** The stored hash uses weaker parameters than the current ones: store a new hash now. */
  needsRehash: boolean;
}

const FAILED: PasswordCheck = Object.freeze({ ok: false, needsRehash: false });

/**
 * Hashes a password for storage as `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (unpadded base64).
 * Throws PasswordPolicyError for an empty, over-long or malformed password.
 */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  const input = prepare(password);
  if (typeof input === 'string') throw new PasswordPolicyError(input);
  if (!validParams(params)) throw new RangeError(`Unsupported scrypt parameters: ${JSON.stringify(params)}`);
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(input, salt, params, KEY_BYTES);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${toB64(salt)}$${toB64(key)}`;
}

/**
 * Checks a password against a stored hash in constant time. Never throws: a password that could
 * not have been hashed, or a stored string that is not one of our hashes, is simply `ok: false`,
 * so a corrupt row cannot crash login.
 */
export async function verifyPassword(
  password: string,
  stored: string,
  current: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<PasswordCheck> {
  const parsed = parseStored(stored);
  const input = prepare(password);
  if (!parsed || typeof input === 'string') return FAILED;
  let actual: Buffer;
  try {
    actual = await derive(input, parsed.salt, parsed.params, parsed.key.length);
  } catch {
    return FAILED;
  }
  if (!timingSafeEqual(actual, parsed.key)) return FAILED;
  return { ok: true, needsRehash: weakerThan(parsed, current) };
}

/**
 * Spends the time of a verification at `current` parameters and always fails. Call it when no
 * account matches, so that an unknown email and a wrong password cost the same and answer alike.
 */
export async function dummyVerify(
  password: string,
  current: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<PasswordCheck> {
  const input = prepare(password);
  // The same early exit verifyPassword takes, so that path is no faster here than there.
  if (typeof input === 'string' || !validParams(current)) return FAILED;
  try {
    const actual = await derive(input, randomBytes(SALT_BYTES), current, KEY_BYTES);
    timingSafeEqual(actual, Buffer.alloc(KEY_BYTES));
  } catch {
    // Nothing to report: the answer is a failure whatever happened.
  }
  return FAILED;
}

/** The UTF-8 bytes to hash, or why there are none. */
function prepare(password: string): Buffer | PasswordRejection {
  if (typeof password !== 'string' || password.length === 0) return 'empty';
  // UTF-8 never takes fewer bytes than UTF-16 code units, so the length test is a cheap first cut;
  // both run before normalising, whose cost would otherwise grow with what an attacker sends.
  if (password.length > MAX_PASSWORD_BYTES || Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    return 'too_long';
  }
  if (LONE_SURROGATE.test(password)) return 'not_unicode';
  // The same password reaches us composed ("é") or decomposed ("e" + U+0301), or in full-width
  // forms from CJK input methods, depending on OS and keyboard; NFKC makes them one byte string.
  // NIST SP 800-63B §5.1.1.2 recommends NFKC or NFKD for exactly this reason.
  return Buffer.from(password.normalize('NFKC'), 'utf8');
}

interface StoredHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function parseStored(stored: string): StoredHash | null {
  // The longest string we could have written is under 200 characters.
  if (typeof stored !== 'string' || stored.length > 512) return null;
  const match = STORED_HASH.exec(stored);
  if (!match) return null;
  const [, ln = '', r = '', p = '', saltB64 = '', keyB64 = ''] = match;
  const params = { ln: Number(ln), r: Number(r), p: Number(p) };
  const salt = fromB64(saltB64);
  const key = fromB64(keyB64);
  if (!validParams(params) || !salt || !key) return null;
  if (salt.length < MIN_STORED_SALT_BYTES || salt.length > MAX_STORED_BYTES) return null;
  if (key.length < MIN_STORED_KEY_BYTES || key.length > MAX_STORED_BYTES) return null;
  return { params, salt, key };
}

function validParams({ ln, r, p }: ScryptParams): boolean {
  const inRange = (value: number, max: number) => Number.isInteger(value) && value >= 1 && value <= max;
  // p multiplies CPU time without adding memory; 16 keeps a corrupt row from pinning a thread.
  return inRange(ln, 30) && inRange(r, 64) && inRange(p, 16) && memoryOf({ ln, r, p }) <= MAX_MEMORY_BYTES;
}

function memoryOf({ ln, r, p }: ScryptParams): number {
  return 128 * r * (2 ** ln + p + 2);
}

function weakerThan(stored: StoredHash, current: ScryptParams): boolean {
  return (
    stored.params.ln < current.ln ||
    stored.params.r < current.r ||
    stored.params.p < current.p ||
    stored.salt.length < SALT_BYTES ||
    stored.key.length < KEY_BYTES
  );
}

function derive(input: Buffer, salt: Buffer, params: ScryptParams, keyLength: number): Promise<Buffer> {
  // Inside the executor, so the synchronous RangeError scrypt throws for bad parameters rejects.
  return new Promise((resolve, reject) => {
    scrypt(
      input,
      salt,
      keyLength,
      { N: 2 ** params.ln, r: params.r, p: params.p, maxmem: MAX_MEMORY_BYTES },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

function toB64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}

/** Decodes unpadded base64, refusing any text that is not the one encoding of its bytes. */
function fromB64(text: string): Buffer | null {
  const bytes = Buffer.from(text, 'base64');
  return toB64(bytes) === text ? bytes : null;
}
