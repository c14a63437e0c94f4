import { randomBytes } from 'node:crypto';
import { Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  ArchiveDecryptError,
  CHUNK_BYTES,
  decryptStream,
  encryptStream,
  fileKey,
  openDataKey,
  sealDataKey,
} from './archive-crypto';

const RECORD = CHUNK_BYTES + 16;

/** Runs `input` through `transform` in pieces of `piece` bytes (streams arrive in any sizes). */
async function through(input: Buffer, transform: Transform, piece = 10_000): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < input.length; at += piece) pieces.push(input.subarray(at, at + piece));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(pieces),
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        out.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(out);
}

async function refusal(stored: Buffer, key: Buffer, expected = stored.length): Promise<ArchiveDecryptError> {
  const error = await through(stored, decryptStream(key, expected)).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ArchiveDecryptError);
  return error as ArchiveDecryptError;
}

describe('chunked AES-256-GCM of archive files', () => {
  const key = randomBytes(32);

  it.each([0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES, 3 * CHUNK_BYTES + 7])(
    'gives back %i bytes as they were, in chunks of a fixed size plus one last',
    async (size) => {
      const plaintext = randomBytes(size);
      const stored = await through(plaintext, encryptStream(key));
      expect(stored.length).toBe(size + 16 * Math.max(1, Math.ceil(size / CHUNK_BYTES)));
      expect((await through(stored, decryptStream(key, stored.length))).equals(plaintext)).toBe(true);
    },
  );

  it('refuses a flipped bit in any chunk as tampered', async () => {
    const stored = await through(randomBytes(3 * CHUNK_BYTES + 100), encryptStream(key));
    for (const at of [0, RECORD - 1, RECORD + 5, stored.length - 1]) {
      const damaged = Buffer.from(stored);
      damaged[at]! ^= 0x01;
      expect((await refusal(damaged, key)).reason).toBe('tampered');
    }
  });

  it('refuses chunks swapped or dropped from the middle', async () => {
    const stored = await through(randomBytes(3 * CHUNK_BYTES + 100), encryptStream(key));
    const chunk = (i: number) => stored.subarray(i * RECORD, (i + 1) * RECORD);
    const swapped = Buffer.concat([chunk(1), chunk(0), stored.subarray(2 * RECORD)]);
    expect((await refusal(swapped, key)).reason).toBe('tampered');
    const dropped = Buffer.concat([chunk(0), stored.subarray(2 * RECORD)]);
    expect((await refusal(dropped, key, dropped.length)).reason).toBe('tampered');
  });

  it('refuses a file cut at a chunk boundary or inside a chunk as truncated, even when its size is not known', async () => {
    const stored = await through(randomBytes(3 * CHUNK_BYTES + 100), encryptStream(key));
    const atBoundary = stored.subarray(0, 2 * RECORD);
    // The manifest's size says it at once; without it, the last chunk's flag does.
    expect((await refusal(atBoundary, key, stored.length)).reason).toBe('truncated');
    expect((await refusal(atBoundary, key, atBoundary.length)).reason).toBe('truncated');
    expect((await refusal(stored.subarray(0, RECORD + 9), key, stored.length)).reason).toBe('truncated');
    expect((await refusal(Buffer.alloc(0), key, stored.length)).reason).toBe('truncated');
  });

  it('keys each file by its name, so a file moved to another name does not open', async () => {
    const dataKey = randomBytes(32);
    const a = fileKey(dataKey, 'backup-1', '0001-users.copy.gz');
    const b = fileKey(dataKey, 'backup-1', '0002-sessions.copy.gz');
    const stored = await through(randomBytes(1000), encryptStream(a));
    expect((await refusal(stored, b)).reason).toBe('tampered');
  });

  it('seals the data key under the key-encryption key, bound to its backup', () => {
    const kek = new Uint8Array(randomBytes(32));
    const dataKey = randomBytes(32);
    const sealed = sealDataKey(dataKey, kek, 'backup-1');
    expect(openDataKey(sealed, kek, 'backup-1')).toEqual(dataKey);
    expect(() => openDataKey(sealed, kek, 'backup-2')).toThrow(/^wrong_key: /);
    expect(() => openDataKey(sealed, new Uint8Array(randomBytes(32)), 'backup-1')).toThrow(/^wrong_key: /);
  });
});
