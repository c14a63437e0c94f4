import type { JWK } from 'jose';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  deleteRetiredSigningKeys,
  insertSigningKey,
  lockSigningKeys,
  selectSigningKeys,
  supersedeSigningKeys,
} from '../../../db/repositories/signing-keys';
import type { SigningKeyRow } from '../../../db/repositories/signing-keys.table';
import { openPrivateKey, SealedKeyError, sealPrivateKey } from '../../base/key-sealing';
import type { Logger } from '../../base/logger';
import {
  type AccessTokenClaims,
  InvalidTokenError,
  signAccessToken,
  type VerifiedAccessToken,
  verifyAccessToken,
} from './access-tokens';
import {
  generateSigningKey,
  importSigningKey,
  importVerificationKeys,
  publicJwks,
  type SigningAlgorithm,
  type SigningKeyHandle,
  type VerificationKeys,
} from './signing-keys';

export interface KeyringOptions {
  database: PlatformDatabase;
  /** Seals private keys before they are stored and opens them when loaded (AUTH_KEY_ENCRYPTION_KEY). */
  kek: Uint8Array;
  /** The algorithm of new keys; a current key of another algorithm is rotated by `maintain`. */
  alg: SigningAlgorithm;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  clockToleranceSeconds: number;
  /** A new key takes over signing once the current one is this many days old. */
  rotationDays: number;
  logger?: Logger;
}

/**
 * An unknown kid reloads the keys at most this often: often enough to learn another instance's
 * rotation within seconds, rarely enough that tokens with made-up kids cannot buy a query each.
 */
export const UNKNOWN_KID_RELOAD_INTERVAL_MS = 5_000;

const DAY_MS = 86_400_000;

interface KnownKey {
  kid: string;
  publicJwk: JWK;
  retireAt: Date | null;
}

interface Snapshot {
  /** The key new tokens are signed with. */
  signer: (SigningKeyHandle & { createdAt: Date }) | null;
  keys: KnownKey[];
  verificationKeys: VerificationKeys;
  loadedAt: Date;
}

/**
 * The JWT signing keys of this instance, kept in `signing_keys` and shared by every instance on
 * the database. One key signs (the newest not superseded); every key not yet retired verifies.
 *
 * Instances learn of a rotation made elsewhere in two ways: a token whose kid they do not know
 * makes them reload (rate-limited, see UNKNOWN_KID_RELOAD_INTERVAL_MS), which teaches them the
 * new key for verifying and signing alike; and `maintain` (run by `startKeyMaintenance`) reloads
 * on every run. Until then an instance keeps signing with the superseded key, and its tokens stop
 * verifying at that key's retire_at, so run maintenance well within the access-token lifetime.
 */
export class Keyring {
  private snapshot: Snapshot | null = null;
  // Loads, rotations and maintenance run one at a time, so a slow read can never install keys
  // older than those a rotation just installed.
  private queue: Promise<unknown> = Promise.resolve();
  private reloadInFlight: Promise<boolean> | null = null;
  private lastUnknownKidReload = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: KeyringOptions) {}

  /** Loads the keys, creating the first one if there is no key to sign with. */
  load(): Promise<void> {
    return this.serially(() => this.loadNow());
  }

  /** Signs an access token with the current key for the configured lifetime. */
  async signAccessToken(
    claims: AccessTokenClaims,
    now = new Date(),
  ): Promise<{ token: string; expiresAt: Date; kid: string }> {
    const { signer } = this.loaded();
    if (!signer) throw new Error('the keyring has no signing key');
    const { issuer, audience, accessTokenTtlSeconds: ttlSeconds } = this.options;
    const token = await signAccessToken(claims, signer, { issuer, audience, ttlSeconds, now });
    // The same arithmetic as the exp claim: whole seconds from the issuing second.
    const expiresAt = new Date((Math.floor(now.getTime() / 1000) + ttlSeconds) * 1000);
    return { token, expiresAt, kid: signer.kid };
  }

  /** Verifies an access token against every key not retired at `now`; throws InvalidTokenError. */
  async verifyAccessToken(token: string, now = new Date()): Promise<VerifiedAccessToken> {
    try {
      return await this.verifyWithLoadedKeys(token, now);
    } catch (error) {
      if (!(error instanceof InvalidTokenError && error.reason === 'unknown_kid')) throw error;
      if (!(await this.reloadForUnknownKid())) throw error;
      return this.verifyWithLoadedKeys(token, now);
    }
  }

  /** The body of `/.well-known/jwks.json`: the public keys not retired at `now`. */
  jwks(now = new Date()): { keys: JWK[] } {
    return publicJwks(this.activeKeys(now));
  }

  /** Makes a new key the signing key at once; the previous one verifies until its tokens expire. */
  rotate(now = new Date()): Promise<{ kid: string; previousKid: string | null }> {
    return this.serially(async () => {
      const { rotation, rows } = await this.rotateIf(now, () => true);
      await this.install(rows);
      return rotation!;
    });
  }

  /**
   * The scheduled work: reload (learning other instances' rotations), rotate a key older than
   * rotationDays, and delete keys whose retire_at has passed, which takes them out of the JWKS.
   */
  maintain(now = new Date()): Promise<{ rotated: boolean; retired: number }> {
    return this.serially(async () => {
      const maxAgeMs = this.options.rotationDays * DAY_MS;
      const { rotation } = await this.rotateIf(
        now,
        (current) =>
          !current ||
          current.alg !== this.options.alg ||
          now.getTime() - current.created_at.getTime() >= maxAgeMs,
      );
      const retired = await this.options.database.transaction((trx) => deleteRetiredSigningKeys(trx, now), {
        idempotent: true,
      });
      if (retired > 0) this.options.logger?.info({ retired }, 'retired signing keys deleted');
      await this.loadNow();
      return { rotated: rotation !== null, retired };
    });
  }

  /** For health reports and the self-test. */
  status(now = new Date()): { currentKid: string | null; verificationKids: string[]; loadedAt: Date | null } {
    return {
      currentKid: this.snapshot?.signer?.kid ?? null,
      verificationKids: this.snapshot ? this.activeKeys(now).map((key) => key.kid) : [],
      loadedAt: this.snapshot?.loadedAt ?? null,
    };
  }

  private async loadNow(): Promise<void> {
    let rows = await this.options.database.read(selectSigningKeys);
    if (!currentKeyOf(rows)) {
      // Rechecked under the lock: of instances starting together, only the first creates a key.
      rows = await this.locked(
        async (trx) => {
          const fresh = await selectSigningKeys(trx);
          if (currentKeyOf(fresh)) return fresh;
          const kid = await this.insertNewKey(trx, new Date());
          this.options.logger?.info({ kid }, 'first signing key created');
          return selectSigningKeys(trx);
        },
        { idempotent: true },
      );
    }
    await this.install(rows);
  }

  /** Supersedes the current key with a new one when `due` says so, under the lock. */
  private async rotateIf(now: Date, due: (current: SigningKeyRow | undefined) => boolean) {
    const retireAt = new Date(
      now.getTime() + (this.options.accessTokenTtlSeconds + this.options.clockToleranceSeconds) * 1000,
    );
    const outcome = await this.locked(async (trx) => {
      const previous = currentKeyOf(await selectSigningKeys(trx));
      if (!due(previous)) return { rotation: null, rows: [] };
      await supersedeSigningKeys(trx, { at: now, retireAt });
      const kid = await this.insertNewKey(trx, now);
      return { rotation: { kid, previousKid: previous?.kid ?? null }, rows: await selectSigningKeys(trx) };
    });
    if (outcome.rotation) this.options.logger?.info(outcome.rotation, 'signing key rotated');
    return outcome;
  }

  private locked<T>(work: (trx: Kysely<Database>) => Promise<T>, { idempotent = false } = {}): Promise<T> {
    return this.options.database.transaction(
      async (trx) => {
        await lockSigningKeys(trx);
        return work(trx);
      },
      { idempotent },
    );
  }

  private async insertNewKey(trx: Kysely<Database>, now: Date): Promise<string> {
    const record = await generateSigningKey(this.options.alg, now);
    await insertSigningKey(trx, {
      kid: record.kid,
      alg: record.alg,
      public_jwk: JSON.stringify(record.publicJwk),
      private_sealed: sealPrivateKey(record.privateJwk, this.options.kek),
      created_at: now,
    });
    return record.kid;
  }

  private async install(rows: SigningKeyRow[]): Promise<void> {
    const current = currentKeyOf(rows);
    const keys = rows.map((row) => ({
      kid: row.kid,
      publicJwk: row.public_jwk as JWK,
      retireAt: row.retire_at,
    }));
    this.snapshot = {
      signer: current ? await this.signerFor(current) : null,
      keys,
      verificationKeys: await importVerificationKeys(keys.map((key) => key.publicJwk)),
      loadedAt: new Date(),
    };
  }

  private async signerFor(row: SigningKeyRow): Promise<NonNullable<Snapshot['signer']>> {
    const loaded = this.snapshot?.signer;
    if (loaded?.kid === row.kid) return loaded;
    let privateJwk: JWK;
    try {
      privateJwk = openPrivateKey(row.private_sealed, this.options.kek);
    } catch (error) {
      if (!(error instanceof SealedKeyError)) throw error;
      throw new Error(
        `signing key ${row.kid} cannot be opened with the configured key-encryption key ` +
          `(AUTH_KEY_ENCRYPTION_KEY): ${error.message}. Every instance on this database needs the key it was sealed with.`,
        { cause: error },
      );
    }
    const handle = await importSigningKey({ kid: row.kid, alg: row.alg as SigningAlgorithm, privateJwk });
    return { ...handle, createdAt: row.created_at };
  }

  private verifyWithLoadedKeys(token: string, now: Date): Promise<VerifiedAccessToken> {
    const { issuer, audience, clockToleranceSeconds } = this.options;
    return verifyAccessToken(token, this.verificationKeysAt(now), {
      issuer,
      audience,
      clockToleranceSeconds,
      now,
    });
  }

  /**
   * Keys whose retire_at has passed verify nothing, even before maintenance deletes them: this
   * instance may not run maintenance in time, or at all.
   */
  private verificationKeysAt(now: Date): VerificationKeys {
    const { keys, verificationKeys } = this.loaded();
    const active = new Set(this.activeKeys(now).map((key) => key.kid));
    if (active.size === keys.length) return verificationKeys;
    return new Map([...verificationKeys].filter(([kid]) => active.has(kid)));
  }

  private activeKeys(now: Date): KnownKey[] {
    return this.loaded().keys.filter((key) => key.retireAt === null || key.retireAt > now);
  }

  /**
   * Reloads once for an unknown kid. Callers arriving during a reload share it; after one, the
   * next waits UNKNOWN_KID_RELOAD_INTERVAL_MS. A failed reload keeps the keys already loaded.
   */
  private reloadForUnknownKid(): Promise<boolean> {
    if (this.reloadInFlight) return this.reloadInFlight;
    if (performance.now() - this.lastUnknownKidReload < UNKNOWN_KID_RELOAD_INTERVAL_MS) {
      return Promise.resolve(false);
    }
    this.lastUnknownKidReload = performance.now();
    this.reloadInFlight = this.load()
      .then(
        () => true,
        (error) => {
          this.options.logger?.warn({ err: error }, 'reloading signing keys for an unknown kid failed');
          return false;
        },
      )
      .finally(() => {
        this.reloadInFlight = null;
      });
    return this.reloadInFlight;
  }

  private loaded(): Snapshot {
    if (!this.snapshot) throw new Error('the keyring is not loaded: call load() first');
    return this.snapshot;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** The signing key: the newest not superseded (rows come newest first). */
function currentKeyOf(rows: SigningKeyRow[]): SigningKeyRow | undefined {
  return rows.find((row) => row.superseded_at === null);
}
