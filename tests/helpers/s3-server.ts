import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import type { S3StoreSettings } from '../../server/services/backups/s3-archive-store';

/**
 * A real S3-protocol server (s3rver: buckets, objects, multipart uploads over HTTP, with AWS
 * signatures checked) in the test's process, on a port of its own, storing its objects under a
 * temporary directory the test can reach into (to flip a byte, or to see what is there).
 */
export interface TestS3 {
  endpoint: string;
  bucket: string;
  /** BACKUP_S3_* as the service takes them, optionally through another endpoint (a proxy). */
  settings(prefix: string, endpoint?: string): S3StoreSettings;
  /** The same as environment variables. */
  env(prefix: string): Record<string, string>;
  /** Every object key in the bucket under `prefix`, sorted. */
  keys(prefix?: string): Promise<string[]>;
  /**
   * Multipart uploads begun and never completed, with the parts the server received (s3rver
   * keeps them, having no AbortMultipartUpload): a part never becomes an object by itself.
   */
  unfinishedUploads(): Promise<{ key: string; parts: number }[]>;
  /** An object's bytes as the server stores them. */
  read(key: string): Promise<Buffer>;
  /** Replaces an object through the S3 API, as anyone with write access to the bucket could. */
  rewrite(key: string, body: string): Promise<void>;
  /** Flips one bit of an object's stored bytes, at `at` (default: the middle). */
  flipByte(key: string, at?: number): Promise<void>;
  close(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const OBJECT_SUFFIX = '._S3rver_object';

export async function startS3Server(bucket = 'platform-backups'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'bc-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const root = join(directory, bucket);
  const objectFile = (key: string) => join(root, `${key}${OBJECT_SUFFIX}`);
  const settings = (prefix: string, via = endpoint): S3StoreSettings => ({
    endpoint: via,
    region: 'us-east-1',
    bucket,
    prefix,
    ...CREDENTIALS,
    forcePathStyle: true,
  });
  return {
    endpoint,
    bucket,
    settings,
    env: (prefix) => ({
      BACKUP_S3_ENDPOINT: endpoint,
      BACKUP_S3_REGION: 'us-east-1',
      BACKUP_S3_BUCKET: bucket,
      BACKUP_S3_PREFIX: prefix,
      BACKUP_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      BACKUP_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      BACKUP_S3_FORCE_PATH_STYLE: 'true',
    }),
    async keys(prefix = '') {
      const found: string[] = [];
      const walk = async (dir: string, path: string) => {
        for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          if (entry.isDirectory()) await walk(join(dir, entry.name), `${path}${entry.name}/`);
          else if (entry.name.endsWith(OBJECT_SUFFIX))
            found.push(`${path}${entry.name.slice(0, -OBJECT_SUFFIX.length)}`);
        }
      };
      await walk(root, '');
      return found.filter((key) => key.startsWith(prefix)).sort();
    },
    async unfinishedUploads() {
      const uploads = join(root, '._S3rver_uploads');
      const found: { key: string; parts: number }[] = [];
      for (const id of await readdir(uploads).catch(() => [] as string[])) {
        const files = await readdir(join(uploads, id));
        const key = await readFile(join(uploads, id, 'key'), 'utf8');
        found.push({ key, parts: files.filter((f) => /^\d+$/.test(f)).length });
      }
      return found;
    },
    read: (key) => readFile(objectFile(key)),
    async rewrite(key, body) {
      const client = new S3Client({ ...settings(''), credentials: CREDENTIALS });
      try {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      } finally {
        client.destroy();
      }
    },
    async flipByte(key, at) {
      const bytes = await readFile(objectFile(key));
      bytes[at ?? Math.floor(bytes.length / 2)]! ^= 0x01;
      await writeFile(objectFile(key), bytes);
    },
    async close() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * A TCP proxy in front of a server that cuts every connection once `limit` bytes have gone
 * through it towards the server, in all, and refuses every later one: an upload interrupted by
 * the network, mid-file.
 */
export async function cuttingProxy(
  target: string,
  limit: number,
): Promise<{ endpoint: string; cut: () => boolean; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  let sent = 0;
  let cut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (sent > limit) {
        cut = true;
        for (const socket of sockets) socket.destroy();
        sockets.clear();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    cut: () => cut,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
