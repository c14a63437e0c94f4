import { describe, expect, it } from 'vitest';
import { openConfig, REDACTED, redactConfig, sealConfig } from './sealed-config';
import { MisplacedReferenceError, referencedSecrets, withSecrets } from './secret-references';

const kek = new Uint8Array(32).fill(3);
const config = {
  url: 'https://hooks.example/deploy',
  secret: 's3cret-value',
  headers: [{ name: 'x-team', apiKey: 'k-123' }],
  cluster: { token: { value: 'tk-999' }, namespace: 'shop' },
  password: null,
};

describe('provider configuration at rest', () => {
  it('seals every secret-named value at any depth and opens it back for the same deployment only', () => {
    const sealed = sealConfig(config, kek, 'deployment-a');
    const text = JSON.stringify(sealed);
    for (const secret of ['s3cret-value', 'k-123', 'tk-999']) expect(text).not.toContain(secret);
    expect(sealed).toMatchObject({ url: config.url, cluster: { namespace: 'shop' }, password: null });
    expect(openConfig(sealed, kek, 'deployment-a')).toEqual(config);
    expect(() => openConfig(sealed, kek, 'deployment-b')).toThrow(/failed authentication/);
    expect(() => openConfig(sealed, new Uint8Array(32).fill(4), 'deployment-a')).toThrow(
      /another key-encryption key/,
    );
  });

  it('redacts the same values, sealed or not', () => {
    const expected = {
      url: config.url,
      secret: REDACTED,
      headers: [{ name: 'x-team', apiKey: REDACTED }],
      cluster: { token: REDACTED, namespace: 'shop' },
      password: null,
    };
    expect(redactConfig(config)).toEqual(expected);
    expect(redactConfig(sealConfig(config, kek, 'deployment-a'))).toEqual(expected);
  });
});

describe('references to environment secrets', () => {
  const withReference = {
    url: 'https://hooks.example/deploy',
    secret: { environmentSecret: 'HOOK_SECRET' },
    headers: [{ name: 'x-team', apiKey: 'inline-key' }],
  };
  const secrets: Record<string, string> = { HOOK_SECRET: 'from-the-environment-0123' };

  it('seals the secret named, keeps the name beside it, opens to the secret, and shows the name', () => {
    const sealed = sealConfig(withReference, kek, 'deployment-a', (name) => secrets[name]!);
    const text = JSON.stringify(sealed);
    expect(text).not.toContain('from-the-environment-0123');
    expect(text).toContain('HOOK_SECRET');
    expect(openConfig(sealed, kek, 'deployment-a')).toEqual({
      ...withReference,
      secret: 'from-the-environment-0123',
    });
    expect(redactConfig(sealed)).toEqual({
      url: withReference.url,
      secret: { environmentSecret: 'HOOK_SECRET' },
      headers: [{ name: 'x-team', apiKey: REDACTED }],
    });
    expect(() => openConfig(sealed, kek, 'deployment-b')).toThrow(/failed authentication/);
  });

  it('finds the names referred to, refuses one outside a secret field, and resolves them', () => {
    expect(referencedSecrets(withReference)).toEqual(['HOOK_SECRET']);
    expect(
      referencedSecrets({
        cluster: { token: { environmentSecret: 'K8S' } },
        list: [{ password: { environmentSecret: 'P' } }],
      }),
    ).toEqual(['K8S', 'P']);
    expect(() => referencedSecrets({ url: { environmentSecret: 'HOOK_SECRET' } })).toThrow(
      MisplacedReferenceError,
    );
    expect(() => referencedSecrets({ nested: { namespace: { environmentSecret: 'X' } } })).toThrow(
      /^nested\.namespace: environmentSecret only in a secret's field/,
    );
    // Inside a secret's value (sealed whole, never resolved): refused rather than passed on as it is.
    expect(() => referencedSecrets({ apiKeys: [{ environmentSecret: 'A' }] })).toThrow(
      MisplacedReferenceError,
    );
    expect(() => referencedSecrets({ token: { value: { environmentSecret: 'A' } } })).toThrow(
      MisplacedReferenceError,
    );
    // Not a reference: another shape is an ordinary (inline) value.
    expect(referencedSecrets({ secret: { environmentSecret: 'A', extra: 1 } })).toEqual([]);
    expect(withSecrets(withReference, (name) => secrets[name]!)).toEqual({
      ...withReference,
      secret: 'from-the-environment-0123',
    });
  });
});
