import { PassThrough, type Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Upload } from '@aws-sdk/lib-storage';
import type { Logger } from '../../base/logger';
import {
  type ArchiveDraft,
  ArchiveFileMissingError,
  type ArchiveStore,
  MANIFEST_FILE,
  PITR_FOLDER,
} from './archive-store';
import { checkKey, ObjectMissingError, type ObjectStore, type StoredObject } from './pitr/object-store';

/** BACKUP_S3_*: a bucket of S3-compatible object storage. */
export interface S3StoreSettings {
  /** Another service than AWS S3 (MinIO, R2, Ceph…); unset: AWS's endpoint for `region`. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Keys start with it ('' or ending in '/'): one installation per prefix. */
  prefix: string;
  /** Unset: the SDK's default credentials (environment, instance or pod role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key` (most non-AWS services). */
  forcePathStyle: boolean;
  /** Bounds on each request (default: 10 s to connect, 120 s without progress); tests shorten them. */
  timeouts?: { connectMs: number; requestMs: number };
}

/** A backup's id (randomUUID), which names its archive's folder. */
const BACKUP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Multipart uploads send parts of this size (S3's minimum is 5 MiB); two are in flight at most. */
const PART_BYTES = 8 * 1024 * 1024;

/** The AWS SDK's S3 client and multipart upload. */
type S3Sdk = typeof import('@aws-sdk/client-s3') & Pick<typeof import('@aws-sdk/lib-storage'), 'Upload'>;

/**
 * Loaded on a store's first call, not when the platform starts: the SDK is ~22 MiB of a process's
 * memory, which an installation without BACKUP_S3_* would pay for nothing.
 */
async function loadSdk(): Promise<S3Sdk> {
  const [s3, storage] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]);
  return { ...s3, Upload: storage.Upload };
}

interface Connected {
  sdk: S3Sdk;
  client: S3Client;
}

/**
 * Archives in a bucket: `<prefix><backup id>/<file>`, manifest.json uploaded last. Each data file
 * is streamed up with a multipart upload (lib-storage's Upload), so no file is held whole in
 * memory; a failed or cancelled upload is aborted, so its parts never become an object, and an
 * archive whose manifest was never written is not an archive (`list` skips it, `removeDrafts`
 * deletes what it left).
 */
export class S3ArchiveStore implements ArchiveStore {
  private readonly prefix: string;
  private readonly root: string;
  private connected: Promise<Connected> | null = null;
  private client: S3Client | null = null;

  constructor(
    private readonly settings: S3StoreSettings,
    private readonly logger: Logger,
  ) {
    this.prefix =
      settings.prefix === '' || settings.prefix.endsWith('/') ? settings.prefix : `${settings.prefix}/`;
    this.root = `s3://${settings.bucket}/${this.prefix}`;
  }

  /** The SDK and this store's client, made on first use. */
  private s3(): Promise<Connected> {
    this.connected ??= loadSdk().then((sdk) => {
      this.client = this.makeClient(sdk);
      return { sdk, client: this.client };
    });
    return this.connected;
  }

  private makeClient(sdk: S3Sdk): S3Client {
    const { settings } = this;
    return new sdk.S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      credentials:
        settings.accessKeyId && settings.secretAccessKey
          ? { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey }
          : undefined,
      // Bounded: a storage service that stops answering fails the backup instead of holding it
      // (and BACKUP_LOCK) for ever. Without throwOnRequestTimeout the SDK only logs a warning when
      // requestTimeout passes, and the request goes on waiting.
      requestHandler: {
        connectionTimeout: settings.timeouts?.connectMs ?? 10_000,
        requestTimeout: settings.timeouts?.requestMs ?? 120_000,
        throwOnRequestTimeout: true,
      },
      maxAttempts: 3,
    });
  }

  get bucket(): string {
    return this.settings.bucket;
  }

  locationOf(id: string): string {
    return `${this.root}${id}`;
  }

  holds(location: string): boolean {
    return location.startsWith(this.root) && !location.slice(this.root.length).includes('/');
  }

  private keyOf(location: string, file: string): string {
    if (!this.holds(location)) throw new Error(`${location} is not in ${this.root}`);
    return `${this.prefix}${location.slice(this.root.length)}/${file}`;
  }

  async begin(location: string): Promise<ArchiveDraft> {
    const s3 = await this.s3();
    return {
      open: (file) => this.uploadStream(s3, this.keyOf(location, file)),
      stored: async () => undefined,
      commit: async (manifest) => {
        await s3.client.send(
          new s3.sdk.PutObjectCommand({
            Bucket: this.settings.bucket,
            Key: this.keyOf(location, MANIFEST_FILE),
            Body: manifest,
            ContentType: 'application/json',
          }),
        );
      },
      abandon: () => this.remove(location),
    };
  }

  /**
   * A Writable whose bytes go up as one object. It finishes once the upload completed; a failure
   * of the upload fails it (so the backup's pipeline fails rather than waits), and destroying it
   * (a failure upstream, a cancel) aborts the upload.
   */
  private uploadStream(s3: Connected, key: string): Writable {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const upload = new s3.sdk.Upload({
      client: s3.client,
      params: { Bucket: this.settings.bucket, Key: key, Body: body },
      partSize: PART_BYTES,
      queueSize: 2,
      // Aborted here instead, so that the upload's own error is the one reported.
      leavePartsOnError: true,
    });
    let finished = false;
    let aborting: Promise<void> | null = null;
    const abort = () => {
      aborting ??= this.abortUpload(s3, upload, key);
      return aborting;
    };
    const done = upload.done().then(
      () => {
        finished = true;
      },
      async (error) => {
        await abort();
        throw error;
      },
    );
    const writable = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        if (body.write(chunk)) callback();
        else body.once('drain', () => callback());
      },
      final(callback) {
        body.end();
        done.then(
          () => callback(),
          (error) => callback(error),
        );
      },
      destroy(error, callback) {
        body.destroy();
        // Not waited for: a cancelled backup must end now, whatever the storage service does.
        if (!finished) void abort();
        callback(error);
      },
    });
    done.catch((error) => writable.destroy(error));
    return writable;
  }

  private async abortUpload({ sdk, client }: Connected, upload: Upload, key: string): Promise<void> {
    await upload.abort();
    if (!upload.uploadId) return;
    await client
      .send(
        new sdk.AbortMultipartUploadCommand({
          Bucket: this.settings.bucket,
          Key: key,
          UploadId: upload.uploadId,
        }),
      )
      .catch((error) =>
        // Its parts never become an object; a bucket lifecycle rule removes them (docs/backups.md).
        this.logger.warn({ err: error, key }, 'a failed multipart upload could not be aborted'),
      );
  }

  async read(location: string, file: string): Promise<Readable> {
    const { sdk, client } = await this.s3();
    try {
      const object = await client.send(
        new sdk.GetObjectCommand({ Bucket: this.settings.bucket, Key: this.keyOf(location, file) }),
      );
      return object.Body as Readable;
    } catch (error) {
      if (
        error instanceof sdk.S3ServiceException &&
        (error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404)
      ) {
        throw new ArchiveFileMissingError(file);
      }
      throw error;
    }
  }

  async remove(location: string): Promise<void> {
    const keys = await this.keysUnder(`${this.keyOf(location, '')}`);
    const manifest = this.keyOf(location, MANIFEST_FILE);
    // The manifest first: from then on it is no longer an archive, whatever else fails.
    const ordered = [...keys.filter((k) => k === manifest), ...keys.filter((k) => k !== manifest)];
    const { sdk, client } = await this.s3();
    for (const key of ordered) {
      await client.send(new sdk.DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    }
  }

  async list(): Promise<string[]> {
    const found: string[] = [];
    const suffix = `/${MANIFEST_FILE}`;
    for (const key of await this.keysUnder(this.prefix)) {
      const name = key.slice(this.prefix.length);
      if (name.endsWith(suffix) && !name.slice(0, -suffix.length).includes('/')) {
        found.push(this.locationOf(name.slice(0, -suffix.length)));
      }
    }
    return found;
  }

  async removeDrafts(): Promise<string[]> {
    const finished = new Set(await this.list());
    const drafts = new Set<string>();
    for (const key of await this.keysUnder(this.prefix)) {
      const name = key.slice(this.prefix.length);
      const slash = name.indexOf('/');
      if (slash <= 0) continue;
      // Only what a backup writes is ours to remove: a folder named by a backup's id (not
      // point-in-time recovery's pitr/, nor anything else kept under the prefix).
      if (!BACKUP_ID.test(name.slice(0, slash))) continue;
      const location = this.locationOf(name.slice(0, slash));
      if (!finished.has(location)) drafts.add(location);
    }
    for (const location of drafts) await this.remove(location);
    return [...drafts];
  }

  /** Point-in-time recovery's objects: `<prefix>pitr/<key>` in this bucket, through this client. */
  objects(): ObjectStore {
    const root = `${this.prefix}${PITR_FOLDER}/`;
    const bucket = this.settings.bucket;
    return {
      where: `s3://${bucket}/${root}`,
      put: async (key, body) => {
        const upload = this.uploadStream(await this.s3(), root + checkKey(key));
        await pipeline(body, upload);
      },
      get: async (key) => {
        try {
          return await this.read(this.locationOf(PITR_FOLDER), checkKey(key));
        } catch (error) {
          if (error instanceof ArchiveFileMissingError) throw new ObjectMissingError(key);
          throw error;
        }
      },
      list: async (prefix) =>
        (await this.objectsUnder(root + prefix))
          .map((o): StoredObject => ({ ...o, key: o.key.slice(root.length) }))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      delete: async (key) => {
        const { sdk, client } = await this.s3();
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: root + checkKey(key) }));
      },
    };
  }

  private async keysUnder(prefix: string): Promise<string[]> {
    return (await this.objectsUnder(prefix)).map((o) => o.key);
  }

  private async objectsUnder(prefix: string): Promise<StoredObject[]> {
    const { sdk, client } = await this.s3();
    const keys: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new sdk.ListObjectsV2Command({
          Bucket: this.settings.bucket,
          Prefix: prefix,
          ContinuationToken: token,
        }),
      );
      for (const object of page.Contents ?? [])
        if (object.Key)
          keys.push({
            key: object.Key,
            size: object.Size ?? 0,
            modifiedAt: object.LastModified ?? new Date(0),
          });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Closes the client's sockets (none if the store was never used). */
  close(): void {
    this.client?.destroy();
  }
}
