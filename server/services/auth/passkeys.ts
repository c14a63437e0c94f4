import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  deletePasskey,
  findPasskey,
  insertPasskey,
  listPasskeys,
  recordPasskeyUse,
  saveRegistrationChallenge,
  setChallengeWebauthn,
  takeRegistrationChallenge,
} from '../../../db/repositories/passkeys';
import type { PasskeyRow } from '../../../db/repositories/passkeys.table';
import { findUserById } from '../../../db/repositories/users';
import { type Actor, auditActor } from '../../base/actor';
import type { AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import { type ScryptParams, verifyPassword } from './passwords';
import { hasFactor, IN_SESSION, type SecondFactorService } from './second-factors';
import { webauthn } from './webauthn';

/** Where a WebAuthn ceremony runs: the relying party id (a host name) and the page's origin. */
export interface RelyingParty {
  rpID: string;
  origin: string;
}

export interface PasskeyServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  factors: SecondFactorService;
  passwordParams: ScryptParams;
  /** The name authenticators show for the platform. */
  rpName: string;
}

/** A passkey as its owner sees it: never its public key. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

// A ceremony the user does not finish within this is started again.
const CEREMONY_SECONDS = 300;
const MAX_PASSKEYS = 10;

/**
 * Passkeys (WebAuthn Level 3 through @simplewebauthn/server) as a second factor: registration in
 * a session, assertion in the sign-in's second step. The server keeps the credential's public key
 * and signature counter; each ceremony's challenge is stored and used once.
 */
export class PasskeyService {
  constructor(private readonly options: PasskeyServiceOptions) {}

  async list(userId: string): Promise<PasskeyView[]> {
    const rows = await this.options.database.read((db) => listPasskeys(db, userId));
    return rows.map(toView);
  }

  /** The options for `navigator.credentials.create()`; their challenge is kept for `register`. */
  async registrationOptions(
    user: { userId: string },
    party: RelyingParty,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const { database } = this.options;
    const row = await database.read((db) => findUserById(db, user.userId));
    if (!row || row.disabled) throw new PlatformError('UNAUTHORIZED', 'the session has ended');
    const existing = await database.read((db) => listPasskeys(db, user.userId));
    if (existing.length >= MAX_PASSKEYS) {
      throw new PlatformError('CONFLICT', `at most ${MAX_PASSKEYS} passkeys; remove one first`);
    }
    const options = await (await webauthn()).generateRegistrationOptions({
      rpName: this.options.rpName,
      rpID: party.rpID,
      userName: row.email,
      userDisplayName: row.name || row.email,
      userID: new TextEncoder().encode(row.id),
      attestationType: 'none',
      excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      timeout: CEREMONY_SECONDS * 1000,
    });
    await database.transaction((trx) =>
      saveRegistrationChallenge(trx, {
        userId: row.id,
        challenge: options.challenge,
        ttlSeconds: CEREMONY_SECONDS,
      }),
    );
    return options;
  }

  /**
   * Verifies the authenticator's answer to `registrationOptions` and stores the passkey. The
   * user's first factor comes with ten recovery codes, as an authenticator app's does.
   */
  async register(
    actor: Actor,
    input: { response: RegistrationResponseJSON; name: string },
    party: RelyingParty,
  ): Promise<{ passkey: PasskeyView; recoveryCodes: string[] | null }> {
    const { database, audit, factors } = this.options;
    const challenge = await database.transaction((trx) => takeRegistrationChallenge(trx, actor.userId));
    if (!challenge) throw new PlatformError('BAD_REQUEST', 'no passkey registration is waiting; start again');
    const verified = await (await webauthn())
      .verifyRegistrationResponse({
        response: input.response,
        expectedChallenge: challenge,
        expectedOrigin: party.origin,
        expectedRPID: party.rpID,
        requireUserVerification: false,
      })
      .catch(() => ({ verified: false as const }));
    if (!verified.verified) throw new PlatformError('BAD_REQUEST', 'the passkey could not be verified');
    const { credential } = verified.registrationInfo;
    return database.transaction(async (trx) => {
      const firstFactor = !(await hasFactor(trx, actor.userId));
      const row = await insertPasskey(trx, {
        id: credential.id,
        userId: actor.userId,
        organizationId: actor.organizationId,
        publicKey: credential.publicKey,
        counter: credential.counter,
        transports: credential.transports ?? [],
        name: input.name,
      });
      const recoveryCodes = firstFactor ? await factors.issueRecoveryCodes(trx, actor.userId) : null;
      await audit.record(trx, {
        type: 'second_factor_enrolled',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: actor.userId },
        details: { method: 'passkey', passkeyId: row.id, recoveryCodes: recoveryCodes?.length ?? 0 },
      });
      return { passkey: toView(row), recoveryCodes };
    });
  }

  /** Removes one of the user's passkeys, for the password. */
  async remove(actor: Actor, input: { id: string; password: string }): Promise<{ ok: true }> {
    const { database, audit } = this.options;
    await this.options.factors.checkThrottle(actor.userId, IN_SESSION);
    const user = await database.read((db) => findUserById(db, actor.userId));
    if (!user || user.disabled) throw new PlatformError('UNAUTHORIZED', 'the session has ended');
    if (!(await verifyPassword(input.password, user.password_hash, this.options.passwordParams)).ok) {
      await this.options.factors.recordWrongCode(actor.userId, IN_SESSION);
      throw new PlatformError('BAD_REQUEST', 'the password is not valid');
    }
    const removed = await database.transaction(async (trx) => {
      const deleted = await deletePasskey(trx, actor.userId, input.id);
      if (deleted) {
        await audit.record(trx, {
          type: 'second_factor_removed',
          result: 'success',
          actor: auditActor(actor),
          target: { type: 'user', id: actor.userId },
          details: { method: 'passkey', passkeyId: input.id },
        });
      }
      return deleted;
    });
    if (!removed) throw new PlatformError('NOT_FOUND', 'no such passkey');
    return { ok: true };
  }

  /** The options for `navigator.credentials.get()` in a sign-in's second step; kept on its challenge. */
  async authenticationOptions(
    trx: Kysely<Database>,
    challenge: { id: string; user_id: string },
    party: RelyingParty,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const passkeys = await listPasskeys(trx, challenge.user_id);
    if (passkeys.length === 0) throw new PlatformError('BAD_REQUEST', 'this account has no passkey');
    const options = await (await webauthn()).generateAuthenticationOptions({
      rpID: party.rpID,
      allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports })),
      userVerification: 'preferred',
      timeout: CEREMONY_SECONDS * 1000,
    });
    await setChallengeWebauthn(trx, challenge.id, options.challenge);
    return options;
  }

  /**
   * Whether `response` is the user's passkey signing `expectedChallenge` (the sign-in challenge's,
   * used once: the caller ends that challenge), with a signature counter that went forward.
   */
  async prove(
    trx: Kysely<Database>,
    userId: string,
    response: AuthenticationResponseJSON,
    expectedChallenge: string | null,
    party: RelyingParty,
  ): Promise<boolean> {
    if (!expectedChallenge) return false;
    const passkey = await findPasskey(trx, userId, response.id);
    if (!passkey) return false;
    const verified = await (await webauthn())
      .verifyAuthenticationResponse({
        response,
        expectedChallenge,
        expectedOrigin: party.origin,
        expectedRPID: party.rpID,
        credential: {
          id: passkey.id,
          publicKey: new Uint8Array(passkey.public_key),
          counter: Number(passkey.counter),
          transports: passkey.transports as never,
        },
        requireUserVerification: false,
      })
      .catch(() => null);
    if (!verified?.verified) return false;
    return recordPasskeyUse(trx, {
      id: passkey.id,
      userId,
      counter: verified.authenticationInfo.newCounter,
    });
  }
}

function toView(row: PasskeyRow): PasskeyView {
  return {
    id: row.id,
    name: row.name,
    createdAt: new Date(row.created_at).toISOString(),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at).toISOString() : null,
  };
}
