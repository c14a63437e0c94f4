import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../server/base/config';
import { parseKeyEncryptionKey } from '../server/base/key-sealing';
import { createLogger } from '../server/base/logger';
import { KEY_ENCRYPTION_KEY_FILE, resolveKeyEncryptionKey } from '../server/composition/key-encryption-key';
import { pointInTimeStore } from '../server/composition/point-in-time';
import { PointInTimeUnavailableError } from '../server/services/backups/pitr/base-backup';
import { recoverToPointInTime } from '../server/services/backups/pitr/recovery';

const USAGE = `usage: npm run db:recover -- --to <time|latest> --data-dir <new DATA_DIR>

Recovers the platform's database to a point in time from the backup store (BACKUP_S3_* or
BACKUP_DIR/pitr) into <new DATA_DIR>/postgres, then stops. Start the platform on it with
DATA_DIR=<new DATA_DIR> (and BACKUP_PITR=true to go on archiving). <time> is ISO 8601 with a
zone, e.g. 2026-12-06T21:30:00Z: commits up to it are kept, later ones are not.
The key-encryption key: AUTH_KEY_ENCRYPTION_KEY, or the file ${KEY_ENCRYPTION_KEY_FILE} in
<new DATA_DIR> or DATA_DIR (copied into <new DATA_DIR>).`;

/** `npm run db:recover`: point-in-time recovery into a new data directory (docs/backups.md). */
async function run(): Promise<void> {
  const { values } = parseArgs({
    options: { to: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || !values.to || !values['data-dir']) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const target = values.to === 'latest' ? 'latest' : new Date(values.to);
  if (target !== 'latest' && (Number.isNaN(target.getTime()) || !/(Z|[+-]\d\d:?\d\d)$/.test(values.to))) {
    throw new PointInTimeUnavailableError(
      `--to ${values.to}: give an ISO 8601 time with its zone, or latest`,
    );
  }
  const config = loadConfig();
  const dataDir = resolve(values['data-dir']);
  const kek = await keyEncryptionKey(config.AUTH_KEY_ENCRYPTION_KEY, dataDir, config.DATA_DIR);
  const logger = createLogger({ level: 'warn' });
  const { store, close } = pointInTimeStore(config, logger);
  try {
    const result = await recoverToPointInTime({
      store,
      kek,
      target,
      dataDir,
      archive: config.BACKUP_PITR,
      onProgress: (message) => console.log(message),
    });
    console.log(
      [
        `recovered into ${result.clusterDir}`,
        result.stoppedAt ? `stopped at ${result.stoppedAt}` : 'replayed every archived WAL file',
        result.lastTransactionAt ? `last transaction kept: ${result.lastTransactionAt}` : null,
        `start the platform on it: DATA_DIR=${dataDir} npm start`,
      ]
        .filter(Boolean)
        .join('\n'),
    );
  } finally {
    close();
  }
}

async function keyEncryptionKey(configured: string | undefined, dataDir: string, oldDataDir: string) {
  if (configured) return parseKeyEncryptionKey(configured);
  const here = join(dataDir, KEY_ENCRYPTION_KEY_FILE);
  const there = join(oldDataDir, KEY_ENCRYPTION_KEY_FILE);
  if (!(await stat(here).catch(() => null))) {
    if (!(await stat(there).catch(() => null))) {
      throw new PointInTimeUnavailableError(
        `no key-encryption key: set AUTH_KEY_ENCRYPTION_KEY, or put ${KEY_ENCRYPTION_KEY_FILE} in ${dataDir}`,
      );
    }
    await mkdir(dataDir, { recursive: true });
    await copyFile(there, here);
  }
  return resolveKeyEncryptionKey(undefined, dataDir).kek;
}

run().catch((error) => {
  if (error instanceof ConfigError || error instanceof PointInTimeUnavailableError) {
    console.error(error.message);
    process.exit(1);
  }
  console.error(error);
  process.exit(1);
});
