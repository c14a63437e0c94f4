import { join } from 'node:path';
import type { Config } from '../base/config';
import type { S3StoreSettings } from '../services/backups/s3-archive-store';

/** BACKUP_DIR: where archives go without a bucket (and pg_dump's passing files in any case). */
export function backupDirectory(config: Config): string {
  return config.BACKUP_DIR ?? join(config.DATA_DIR, 'backups');
}

/** BACKUP_S3_*: the bucket archives and point-in-time recovery go to, or null for BACKUP_DIR. */
export function backupBucket(config: Config): S3StoreSettings | null {
  if (!config.BACKUP_S3_BUCKET) return null;
  return {
    bucket: config.BACKUP_S3_BUCKET,
    endpoint: config.BACKUP_S3_ENDPOINT,
    region: config.BACKUP_S3_REGION,
    prefix: config.BACKUP_S3_PREFIX,
    accessKeyId: config.BACKUP_S3_ACCESS_KEY_ID,
    secretAccessKey: config.BACKUP_S3_SECRET_ACCESS_KEY,
    forcePathStyle: config.BACKUP_S3_FORCE_PATH_STYLE,
  };
}
