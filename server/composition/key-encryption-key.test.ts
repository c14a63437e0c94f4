import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEY_ENCRYPTION_KEY_FILE, resolveKeyEncryptionKey } from './key-encryption-key';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'bc-kek-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function errorMessageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}

describe('resolveKeyEncryptionKey', () => {
  it('uses the configured key and writes no file', () => {
    const configured = randomBytes(32).toString('base64');
    const dataDir = join(root, 'data');

    const resolved = resolveKeyEncryptionKey(configured, dataDir);

    expect(Buffer.from(resolved.kek).toString('base64')).toBe(configured);
    expect(resolved.file).toBeUndefined();
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses a configured key of the wrong length without echoing it', () => {
    const configured = randomBytes(16).toString('base64');
    const message = errorMessageOf(() => resolveKeyEncryptionKey(configured, root));
    expect(message).toMatch(/32 bytes/);
    expect(message).not.toContain(configured);
  });

  it('generates 32 random bytes into DATA_DIR, creating the directory, readable by the owner only', () => {
    const dataDir = join(root, 'nested', 'data');

    const resolved = resolveKeyEncryptionKey(undefined, dataDir);

    const file = join(dataDir, KEY_ENCRYPTION_KEY_FILE);
    expect(resolved.file).toBe(file);
    expect(resolved.kek).toBeInstanceOf(Uint8Array);
    expect(resolved.kek.length).toBe(32);
    expect(readFileSync(file, 'utf8')).toBe(`${Buffer.from(resolved.kek).toString('base64')}\n`);
    if (process.platform !== 'win32') expect(statSync(file).mode & 0o777).toBe(0o600);
    // The temporary file the key was written through is gone.
    expect(readdirSync(dataDir)).toEqual([KEY_ENCRYPTION_KEY_FILE]);
  });

  it('returns the same key on every later start', () => {
    const first = resolveKeyEncryptionKey(undefined, root);
    const second = resolveKeyEncryptionKey(undefined, root);
    expect(Buffer.from(second.kek).equals(Buffer.from(first.kek))).toBe(true);
  });

  it('prefers the configured key over a generated file', () => {
    const generated = resolveKeyEncryptionKey(undefined, root);
    const configured = randomBytes(32).toString('base64');

    const resolved = resolveKeyEncryptionKey(configured, root);

    expect(Buffer.from(resolved.kek).toString('base64')).toBe(configured);
    expect(Buffer.from(resolved.kek).equals(Buffer.from(generated.kek))).toBe(false);
  });

  it('names the file, but not its content, when the file holds no valid key', () => {
    const file = join(root, KEY_ENCRYPTION_KEY_FILE);
    const content = 'not-a-key-but-maybe-a-secret';
    writeFileSync(file, content);

    const message = errorMessageOf(() => resolveKeyEncryptionKey(undefined, root));

    expect(message).toContain(file);
    expect(message).toMatch(/base64/);
    expect(message).not.toContain(content);
    // A broken key file is reported, never replaced: keys may already be sealed with it.
    expect(readFileSync(file, 'utf8')).toBe(content);
  });
});
