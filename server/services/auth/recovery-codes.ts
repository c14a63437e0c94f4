import { randomBytes } from 'node:crypto';
import { hashSecret } from './secrets';

/** How many recovery codes a user holds; each works once. */
export const RECOVERY_CODE_COUNT = 10;

// Crockford's base32 alphabet, lower-case: no i, l, o or u to misread when typed from paper.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
// 16 characters of 5 bits: 80 random bits, beyond guessing even with the hash in hand.
const CODE_CHARACTERS = 16;

/** Ten new codes, `xxxx-xxxx-xxxx-xxxx`: show them once, store `hashRecoveryCode` of each. */
export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, () => {
    const bytes = randomBytes(CODE_CHARACTERS);
    // 256 is a multiple of 32: each byte modulo 32 is uniform.
    const characters = [...bytes].map((byte) => ALPHABET[byte % 32]).join('');
    return characters.match(/.{4}/g)!.join('-');
  });
}

/**
 * A code as typed, in its stored form: case, spaces and dashes ignored, and the letters people
 * read for digits (o, i, l) read as digits, as Crockford's base32 prescribes. Null when it cannot
 * be a code.
 */
export function normalizeRecoveryCode(typed: string): string | null {
  const code = typed.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  if (code.length !== CODE_CHARACTERS || [...code].some((c) => !ALPHABET.includes(c))) return null;
  return code;
}

/** Hex SHA-256 of a normalized code: what the database keeps. */
export function hashRecoveryCode(normalized: string): string {
  return hashSecret(`recovery-code:${normalized}`);
}
