import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhookSignature,
} from '../../base/outbound/webhook-signature';
import { openSecret, SealedSecretError, sealSecret } from '../../base/sealed-secret';

const kek = new Uint8Array(randomBytes(32));

describe('sealSecret / openSecret', () => {
  it('opens what it sealed, and never stores the plaintext', () => {
    const secret = generateWebhookSecret();
    const sealed = sealSecret(secret, kek, 'row-1');
    expect(sealed).not.toContain(secret);
    expect(sealed.split('.')).toHaveLength(5);
    expect(openSecret(sealed, kek, 'row-1')).toBe(secret);
    expect(openSecret(sealed, [new Uint8Array(randomBytes(32)), kek], 'row-1')).toBe(secret);
  });

  it('refuses another row, another key and any altered part', () => {
    const sealed = sealSecret('whsec_x', kek, 'row-1');
    expect(() => openSecret(sealed, kek, 'row-2')).toThrow(SealedSecretError);
    expect(() => openSecret(sealed, new Uint8Array(randomBytes(32)), 'row-1')).toThrow(
      /another key-encryption key/,
    );
    const parts = sealed.split('.');
    for (const index of [2, 3, 4]) {
      const altered = [...parts];
      const part = altered[index] as string;
      altered[index] = `${part[0] === 'A' ? 'B' : 'A'}${part.slice(1)}`;
      expect(() => openSecret(altered.join('.'), kek, 'row-1'), `part ${index}`).toThrow(SealedSecretError);
    }
    expect(() => openSecret('v2.a.b.c.d', kek, 'row-1')).toThrow(SealedSecretError);
  });
});

describe('webhook signatures', () => {
  const secret = generateWebhookSecret();
  const body = '{"status":"firing"}';
  const now = 1_800_000_000_000;
  const timestamp = String(now / 1000);
  const signature = signWebhook(secret, now / 1000, body);

  it('verifies a signature over the timestamp and the raw body', () => {
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ secret, body, timestamp, signature, nowMs: now })).toBe(true);
  });

  it('refuses another body, secret or timestamp, an old delivery and malformed headers', () => {
    const ok = { secret, body, timestamp, signature, nowMs: now };
    expect(verifyWebhookSignature({ ...ok, body: '{"status":"resolved"}' })).toBe(false);
    expect(verifyWebhookSignature({ ...ok, secret: generateWebhookSecret() })).toBe(false);
    expect(verifyWebhookSignature({ ...ok, timestamp: String(now / 1000 + 1) })).toBe(false);
    expect(verifyWebhookSignature({ ...ok, nowMs: now + 301_000 })).toBe(false);
    expect(verifyWebhookSignature({ ...ok, signature: signature.slice(0, -1) })).toBe(false);
    expect(verifyWebhookSignature({ ...ok, signature: null })).toBe(false);
    expect(verifyWebhookSignature({ ...ok, timestamp: '1e9' })).toBe(false);
  });
});

// The URL policy of webhooks is the outbound module's: server/base/outbound/*.test.ts.
