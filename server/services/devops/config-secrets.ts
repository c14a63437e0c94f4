import { createHmac, hkdfSync } from 'node:crypto';
import type { SealedConfigSecret } from '../../../db/repositories/environments.table';
import { openSecret, sealSecret } from '../../base/sealed-secret';

/**
 * Configuration secrets at rest. A process needs the value itself, so it cannot be hashed: it is
 * sealed with AES-256-GCM under the key-encryption key (server/base/sealed-secret.ts),
 * bound to its environment and key, so a sealed value copied to another environment or key does
 * not open there. A rollback copies the sealed text of an older revision of the same environment
 * and key, which opens as before.
 *
 * Next to it, a fingerprint: a truncated HMAC-SHA256 of the value under a key derived from the
 * key-encryption key and the organization. It shows that a secret changed, or that two
 * environments hold the same one, without opening anything; being keyed, it cannot be used to
 * guess a value offline, and the same value in two organizations has unrelated fingerprints.
 * (Rotating the key-encryption key changes every fingerprint: the next change of each secret
 * then shows as changed once.)
 */

/** 64 bits: enough to tell values apart, too short to be worth anything else. */
const FINGERPRINT_HEX_CHARS = 16;

export class ConfigSecretSealer {
  constructor(private readonly kek: Uint8Array) {}

  seal(
    scope: { organizationId: string; environmentId: string },
    key: string,
    plaintext: string,
  ): SealedConfigSecret {
    return {
      sealed: sealSecret(plaintext, this.kek, context(scope.environmentId, key)),
      fingerprint: this.fingerprint(scope.organizationId, plaintext),
    };
  }

  /** The value; throws SealedSecretError for another key-encryption key or an altered text. */
  open(scope: { environmentId: string }, key: string, secret: SealedConfigSecret): string {
    return openSecret(secret.sealed, this.kek, context(scope.environmentId, key));
  }

  fingerprint(organizationId: string, plaintext: string): string {
    return createHmac('sha256', this.fingerprintKey(organizationId))
      .update(plaintext, 'utf8')
      .digest('hex')
      .slice(0, FINGERPRINT_HEX_CHARS);
  }

  private fingerprintKey(organizationId: string): Buffer {
    // HKDF (RFC 5869): a key of its own, so the fingerprints reveal nothing of the KEK's other uses.
    return Buffer.from(
      hkdfSync('sha256', this.kek, 'beauty-crafter/config-fingerprint/v1', organizationId, 32),
    );
  }
}

function context(environmentId: string, key: string): string {
  return `config-secret:${environmentId}:${key}`;
}
