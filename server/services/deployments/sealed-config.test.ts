import { describe, expect, it } from 'vitest';
import { openConfig, REDACTED, redactConfig, sealConfig } from './sealed-config';

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
