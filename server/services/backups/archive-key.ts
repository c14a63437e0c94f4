import {
  ArchiveDecryptError,
  CHUNK_BYTES,
  ENCRYPTION_SCHEME,
  fileKey,
  manifestMac,
  newDataKey,
  openDataKey,
  sameMac,
  sealDataKey,
} from './archive-crypto';
import { canonicalManifest, MANIFEST_FORMAT, type Manifest } from './manifest';

/** How an archive's files are read: with the key of each (format 2), or as they are (format 1). */
export interface ArchiveKey {
  /** The key of one data file, or null for an archive written unencrypted (format 1). */
  forFile(file: string): Buffer | null;
}

const PLAIN: ArchiveKey = { forFile: () => null };

/** A new backup's data key and what the manifest records of it. */
export function newArchiveKey(kek: Uint8Array, backupId: string) {
  const dataKey = newDataKey();
  return {
    key: { forFile: (file: string) => fileKey(dataKey, backupId, file) } satisfies ArchiveKey,
    encryption: {
      scheme: ENCRYPTION_SCHEME,
      chunkBytes: CHUNK_BYTES,
      sealedKey: sealDataKey(dataKey, kek, backupId),
    },
    /** The manifest with its MAC, once every other field is final. */
    seal: (manifest: Manifest): Manifest => ({
      ...manifest,
      mac: manifestMac(dataKey, backupId, canonicalManifest(manifest)),
    }),
  } as const;
}

/**
 * Opens an archive's key: the data key unsealed with the key-encryption key, and the manifest's
 * MAC checked with it (a manifest edited in the bucket, or moved from another backup, is refused).
 * Throws ArchiveDecryptError: `wrong_key` when no key given opens it, `tampered` for a bad MAC.
 */
export function openArchiveKey(manifest: Manifest, kek: Uint8Array | undefined): ArchiveKey {
  if (manifest.format !== MANIFEST_FORMAT) return PLAIN;
  if (!manifest.encryption || !manifest.mac)
    throw new ArchiveDecryptError('tampered', 'the manifest lacks its key');
  if (!kek)
    throw new ArchiveDecryptError(
      'wrong_key',
      'the archive is encrypted and no key-encryption key is configured',
    );
  const dataKey = openDataKey(manifest.encryption.sealedKey, kek, manifest.id);
  if (!sameMac(manifestMac(dataKey, manifest.id, canonicalManifest(manifest)), manifest.mac)) {
    throw new ArchiveDecryptError('tampered', 'the manifest does not match its MAC');
  }
  return { forFile: (file) => fileKey(dataKey, manifest.id, file) };
}
