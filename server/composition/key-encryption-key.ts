import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKeyEncryptionKey } from '../base/key-sealing';

/** The file under DATA_DIR holding a generated key-encryption key. */
export const KEY_ENCRYPTION_KEY_FILE = 'auth-key-encryption-key';

/**
 * The key-encryption key sealing the JWT signing keys: AUTH_KEY_ENCRYPTION_KEY when set;
 * otherwise one generated on first start and kept in DATA_DIR/auth-key-encryption-key (mode 600),
 * so `npm start` works out of the box without the key ever being printed to a log. Losing that
 * file makes the sealed signing keys unusable; every instance sharing a database needs the same key.
 */
export function resolveKeyEncryptionKey(
  configured: string | undefined,
  dataDir: string,
): { kek: Uint8Array; file?: string } {
  if (configured) return { kek: parseKeyEncryptionKey(configured) };
  const file = join(dataDir, KEY_ENCRYPTION_KEY_FILE);
  if (!existsSync(file)) createKeyFile(file, dataDir);
  return { kek: readKeyFile(file), file };
}

/**
 * Two processes starting at once on one DATA_DIR must end up with the same key: one that
 * overwrote the other's would leave keys sealed with a key nobody has. The key is written whole
 * to a private temporary file and linked into place, which fails if the file already exists, so
 * the first writer wins and nobody ever reads a half-written file.
 */
function createKeyFile(file: string, dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temporary, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}

function readKeyFile(file: string): Uint8Array {
  try {
    return parseKeyEncryptionKey(readFileSync(file, 'utf8'));
  } catch (error) {
    // parseKeyEncryptionKey never echoes the value, so its message is safe to pass on.
    throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
  }
}
