import { describe, expect, it } from 'vitest';
import {
  hashRecoveryCode,
  newRecoveryCodes,
  normalizeRecoveryCode,
  RECOVERY_CODE_COUNT,
} from './recovery-codes';
import { matchTotp, newTotpSecret, totpCode, totpStep, totpUri } from './totp';

// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890", codes 8 digits.
const RFC_SECRET = new TextEncoder().encode('12345678901234567890');
const RFC_VECTORS: [seconds: number, code: string][] = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];
/** The same seed in base32, as authenticator apps are given it. */
const RFC_SECRET_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('TOTP (RFC 6238)', () => {
  it.each(RFC_VECTORS)("gives RFC 6238's SHA-1 code at T = %i s", (seconds, code) => {
    expect(totpCode(RFC_SECRET, new Date(seconds * 1000), 8)).toBe(code);
    expect(totpCode(RFC_SECRET_BASE32, new Date(seconds * 1000), 8)).toBe(code);
  });

  it('accepts the codes of the steps just before and after now (±30 s of skew), and says which step', () => {
    const secret = newTotpSecret();
    const now = new Date(1_800_000_015_000);
    const step = totpStep(now);
    for (const offset of [-1, 0, 1]) {
      const code = totpCode(secret, new Date(now.getTime() + offset * 30_000));
      expect(matchTotp(secret, code, now)).toBe(step + offset);
    }
  });

  it('refuses the codes of two steps before or after now (±60 s)', () => {
    // A fixed secret and time, so that no code of ±2 steps happens to equal one of the window's.
    const now = new Date(1_111_111_111_000);
    const codes = [-2, -1, 0, 1, 2].map((o) =>
      totpCode(RFC_SECRET_BASE32, new Date(now.getTime() + o * 30_000)),
    );
    expect(new Set(codes).size).toBe(5);
    expect(matchTotp(RFC_SECRET_BASE32, codes[0]!, now)).toBeNull();
    expect(matchTotp(RFC_SECRET_BASE32, codes[4]!, now)).toBeNull();
    expect(matchTotp(RFC_SECRET_BASE32, codes[2]!, now)).toBe(totpStep(now));
  });

  it("refuses another secret's code, and anything but six digits", () => {
    const secret = newTotpSecret();
    const now = new Date();
    const code = totpCode(secret, now);
    expect(matchTotp(secret, code, now)).toBe(totpStep(now));
    expect(matchTotp(secret, ` ${code}`, now)).toBeNull();
    expect(matchTotp(secret, `${code}0`, now)).toBeNull();
    expect(matchTotp(secret, 'abcdef', now)).toBeNull();
    const at = new Date(1_111_111_111_000);
    const theirs = totpCode(RFC_SECRET_BASE32, at);
    expect(theirs).not.toBe(totpCode('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', at));
    expect(matchTotp('JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', theirs, at)).toBeNull();
  });

  it('makes 160-bit base32 secrets and an otpauth:// URI an authenticator app reads', () => {
    const secret = newTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(totpUri({ secret, issuer: 'Beauty Crafter', account: 'ada@example.test' }));
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Beauty Crafter:ada@example.test');
    expect(Object.fromEntries(uri.searchParams)).toEqual({
      secret,
      issuer: 'Beauty Crafter',
      algorithm: 'SHA1',
      digits: '6',
      period: '30',
    });
  });
});

describe('recovery codes', () => {
  it('makes ten different codes of 80 random bits, xxxx-xxxx-xxxx-xxxx', () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(RECOVERY_CODE_COUNT);
    expect(new Set(codes).size).toBe(RECOVERY_CODE_COUNT);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$/);
  });

  it('reads a code however it is typed: case, spaces, dashes, and o/i/l for 0/1', () => {
    const [code] = newRecoveryCodes() as [string];
    const stored = hashRecoveryCode(normalizeRecoveryCode(code)!);
    expect(hashRecoveryCode(normalizeRecoveryCode(code.toUpperCase().replace(/-/g, ' '))!)).toBe(stored);
    expect(normalizeRecoveryCode('0000-1111-0000-1111')).toBe(normalizeRecoveryCode('oOoO-iIlL-0000-1111'));
    expect(normalizeRecoveryCode('too-short')).toBeNull();
    expect(normalizeRecoveryCode('uuuu-uuuu-uuuu-uuuu')).toBeNull();
  });
});
