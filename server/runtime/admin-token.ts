import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The admin token: ADMIN_TOKEN when set; otherwise one generated on first start and kept in
 * DATA_DIR/admin-token (mode 600), so `npm start` works out of the box without a secret ever
 * being printed to a log.
 */
export function resolveAdminToken(
  configured: string | undefined,
  dataDir: string,
): { token: string; file?: string } {
  if (configured) return { token: configured };
  const file = join(dataDir, 'admin-token');
  if (existsSync(file)) return { token: readFileSync(file, 'utf8').trim(), file };
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(32).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}
