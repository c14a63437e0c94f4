import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { findOrganization, setSecondFactorRequirement } from '../../../db/repositories/organizations';
import { countPasskeys } from '../../../db/repositories/passkeys';
import {
  countUnusedRecoveryCodes,
  deleteTotpFactor,
  findTotpFactor,
  insertChallenge,
  replaceRecoveryCodes,
  savePendingTotp,
  takeTotpStep,
  useRecoveryCode,
} from '../../../db/repositories/second-factors';
import type { ChallengePurpose } from '../../../db/repositories/second-factors.table';
import { revokeSessionsWithoutSecondFactor } from '../../../db/repositories/sessions';
import { findUserById } from '../../../db/repositories/users';
import { type Actor, auditActor } from '../../base/actor';
import type { AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import type { UserPrincipal } from '../../base/principal';
import { openSecret, sealSecret } from '../../base/sealed-secret';
import { factorKey, ipKey, type LoginThrottle } from './login-throttle';
import { type ScryptParams, verifyPassword } from './passwords';
import { hashRecoveryCode, newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes';
import { hashSecret } from './secrets';
import type { SignInChallenge } from './session-types';
import { matchTotp, newTotpSecret, totpUri } from './totp';

export interface SecondFactorServiceOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  throttle: LoginThrottle;
  passwordParams: ScryptParams;
  /** The key-encryption key the TOTP secrets are sealed under. */
  kek: Uint8Array;
  /** The name authenticator apps show beside the account (AUTH_ISSUER's host or the product). */
  issuer: string;
  /** How long a sign-in challenge lasts; 5 minutes by default. */
  challengeTtlSeconds?: number;
  /** The clock, for tests that travel in time; the system's by default. */
  now?: () => Date;
}

/** What the session service asks at sign-in (the rest of the service is the factors' owners'). */
export type SecondFactorGate = Pick<SecondFactorService, 'stepAfterPassword' | 'openChallenge'>;

/** What proves the second factor: a TOTP code, or one of the recovery codes. */
export type FactorProof = { code: string } | { recoveryCode: string };

/** A user's TOTP secret waiting for its first code. */
export interface TotpEnrolment {
  secret: string;
  uri: string;
  issuer: string;
  account: string;
}

/**
 * The address to count a wrong code on, for calls made in a session (enrolment, new recovery
 * codes, removal): none. The caller is signed in already, so the user's factor is what a guesser
 * attacks; the address's count is for sign-in, where anyone may try.
 */
export const IN_SESSION = null;

const CHALLENGE_PREFIX = 'bcsf_';
const CHALLENGE = /^bcsf_[A-Za-z0-9_-]{43}$/;
const WRONG_CODE = 'the code is not valid';

/**
 * The second factor of people (docs/security.md, "Second factor"): TOTP secrets sealed at rest,
 * enrolled by a first valid code, each code accepted once (the last used time step is kept);
 * ten recovery codes stored hashed; the organization's requirement; and the challenges that
 * sign-in hands out between the password and the second step.
 */
export class SecondFactorService {
  private readonly options: SecondFactorServiceOptions;
  private readonly challengeTtlSeconds: number;

  constructor(options: SecondFactorServiceOptions) {
    this.options = options;
    this.challengeTtlSeconds = options.challengeTtlSeconds ?? 300;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** The caller's factors, and whether their organization requires one. */
  async status(principal: UserPrincipal) {
    return this.options.database.read(async (db) => {
      const factor = await findTotpFactor(db, principal.userId);
      const organization = await findOrganization(db, principal.organizationId);
      return {
        totp: !factor ? ('none' as const) : factor.confirmed_at ? ('active' as const) : ('pending' as const),
        passkeys: await countPasskeys(db, principal.userId),
        recoveryCodesLeft: await countUnusedRecoveryCodes(db, principal.userId),
        requiredByOrganization: organization?.require_second_factor ?? false,
        sessionUsedSecondFactor: principal.secondFactor === true,
      };
    });
  }

  /**
   * A new TOTP secret for the user, sealed and stored as pending: it is not asked for at sign-in
   * until `confirmTotp` sees a first valid code. A user with an active factor removes it first.
   */
  async beginTotp(user: { userId: string; organizationId: string }): Promise<TotpEnrolment> {
    const row = await this.options.database.read((db) => findUserById(db, user.userId));
    if (!row || row.disabled) throw new PlatformError('UNAUTHORIZED', 'the session has ended');
    const secret = newTotpSecret();
    const saved = await this.options.database.transaction((trx) =>
      savePendingTotp(trx, {
        userId: user.userId,
        organizationId: user.organizationId,
        secretSealed: sealSecret(secret, this.options.kek, sealContext(user.userId)),
      }),
    );
    if (!saved) {
      throw new PlatformError('CONFLICT', 'an authenticator app is already enrolled; remove it first');
    }
    const account = row.email;
    return {
      secret,
      uri: totpUri({ secret, issuer: this.options.issuer, account }),
      issuer: this.options.issuer,
      account,
    };
  }

  /**
   * Activates the pending secret with its first valid code, and gives the user ten new recovery
   * codes (shown this once). Wrong codes count on the user's factor throttle.
   */
  async confirmTotp(actor: Actor, code: string): Promise<{ recoveryCodes: string[] }> {
    await this.checkThrottle(actor.userId, IN_SESSION);
    const codes = newRecoveryCodes();
    const confirmed = await this.options.database.transaction(async (trx) => {
      const factor = await findTotpFactor(trx, actor.userId);
      if (!factor || factor.confirmed_at) return false;
      const step = matchTotp(this.secretOf(factor.secret_sealed, actor.userId), code, this.now());
      if (step === null || !(await takeTotpStep(trx, { userId: actor.userId, step, confirm: true })))
        return false;
      await replaceRecoveryCodes(trx, actor.userId, codes.map(hashOf));
      await this.options.audit.record(trx, {
        type: 'second_factor_enrolled',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: actor.userId },
        details: { method: 'totp', recoveryCodes: codes.length },
      });
      return true;
    });
    if (!confirmed) {
      await this.refuse(actor, 'second_factor_enrolled', 'wrong_code');
      throw new PlatformError('BAD_REQUEST', `${WRONG_CODE}, or no enrolment is waiting for one`);
    }
    await this.options.throttle.recordSuccess(factorKey(actor.userId));
    return { recoveryCodes: codes };
  }

  /**
   * Ten new recovery codes in place of the old ones, for a current TOTP code or (a user with
   * passkeys only has no code to give) the password.
   */
  async regenerateRecoveryCodes(
    actor: Actor,
    proof: { code?: string; password?: string },
  ): Promise<{ recoveryCodes: string[] }> {
    await this.checkThrottle(actor.userId, IN_SESSION);
    const user = await this.options.database.read((db) => findUserById(db, actor.userId));
    if (!user || user.disabled) throw new PlatformError('UNAUTHORIZED', 'the session has ended');
    const passwordOk =
      proof.password !== undefined &&
      (await verifyPassword(proof.password, user.password_hash, this.options.passwordParams)).ok;
    const codes = newRecoveryCodes();
    const done = await this.options.database.transaction(async (trx) => {
      if (!(await hasFactor(trx, actor.userId))) return false;
      const proven =
        passwordOk ||
        (proof.code !== undefined && (await this.prove(trx, actor.userId, { code: proof.code })) === 'otp');
      if (!proven) return false;
      await replaceRecoveryCodes(trx, actor.userId, codes.map(hashOf));
      await this.options.audit.record(trx, {
        type: 'recovery_codes_regenerated',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: actor.userId },
        details: { recoveryCodes: codes.length },
      });
      return true;
    });
    if (!done) {
      await this.refuse(actor, 'recovery_codes_regenerated', 'wrong_proof');
      throw new PlatformError(
        'BAD_REQUEST',
        'the code or password is not valid, or no second factor is set up',
      );
    }
    await this.options.throttle.recordSuccess(factorKey(actor.userId));
    return { recoveryCodes: codes };
  }

  /** Removes the user's TOTP factor and recovery codes, for a current code or the password. */
  async remove(actor: Actor, proof: { code?: string; password?: string }): Promise<{ ok: true }> {
    await this.checkThrottle(actor.userId, IN_SESSION);
    const user = await this.options.database.read((db) => findUserById(db, actor.userId));
    if (!user || user.disabled) throw new PlatformError('UNAUTHORIZED', 'the session has ended');
    const passwordOk =
      proof.password !== undefined &&
      (await verifyPassword(proof.password, user.password_hash, this.options.passwordParams)).ok;
    const removed = await this.options.database.transaction(async (trx) => {
      const factor = await findTotpFactor(trx, actor.userId);
      if (!factor) return 'none' as const;
      const proven =
        passwordOk ||
        (proof.code !== undefined && factor.confirmed_at !== null
          ? (await this.prove(trx, actor.userId, { code: proof.code })) === 'otp'
          : false);
      if (!proven) return 'refused' as const;
      await deleteTotpFactor(trx, actor.userId);
      await replaceRecoveryCodes(trx, actor.userId, []);
      await this.options.audit.record(trx, {
        type: 'second_factor_removed',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'user', id: actor.userId },
        details: { method: 'totp', provenBy: passwordOk ? 'password' : 'code' },
      });
      return 'removed' as const;
    });
    if (removed === 'none') throw new PlatformError('NOT_FOUND', 'no second factor is enrolled');
    if (removed === 'refused') {
      await this.refuse(actor, 'second_factor_removed', 'wrong_proof');
      throw new PlatformError('BAD_REQUEST', 'the code or password is not valid');
    }
    await this.options.throttle.recordSuccess(factorKey(actor.userId));
    return { ok: true };
  }

  /** Whether the organization requires a second factor of its members. */
  async requirement(actor: Actor): Promise<{ organizationId: string; required: boolean }> {
    const organization = await this.options.database.read((db) => findOrganization(db, actor.organizationId));
    if (!organization) throw new PlatformError('NOT_FOUND', 'no such organization');
    return { organizationId: organization.id, required: organization.require_second_factor };
  }

  /**
   * Requires (or stops requiring) a second factor of the organization's members. Turning it on
   * ends the sessions opened without one, on every instance: their users sign in again, and
   * enrol then if they have no factor yet.
   */
  async setRequirement(
    actor: Actor,
    required: boolean,
  ): Promise<{ organizationId: string; required: boolean; revokedSessions: number }> {
    return this.options.database.transaction(async (trx) => {
      const row = await setSecondFactorRequirement(trx, actor.organizationId, required);
      if (!row) throw new PlatformError('NOT_FOUND', 'no such organization');
      const revokedSessions = required
        ? await revokeSessionsWithoutSecondFactor(trx, {
            organizationId: actor.organizationId,
            reason: 'second_factor_required',
          })
        : 0;
      await this.options.audit.record(trx, {
        type: 'second_factor_requirement_changed',
        result: 'success',
        actor: auditActor(actor),
        target: { type: 'organization', id: actor.organizationId },
        details: { required, revokedSessions },
      });
      return { organizationId: row.id, required, revokedSessions };
    });
  }

  /**
   * What a valid password leads to: `verify` when the user has an active factor, `enrol` when
   * the organization requires one and the user has none, else nothing (a session at once).
   */
  async stepAfterPassword(user: { id: string; organization_id: string }): Promise<ChallengePurpose | null> {
    return this.options.database.read(async (db) => {
      const factor = await findTotpFactor(db, user.id);
      if (factor?.confirmed_at || (await countPasskeys(db, user.id)) > 0) return 'verify';
      const organization = await findOrganization(db, user.organization_id);
      return organization?.require_second_factor ? 'enrol' : null;
    });
  }

  /** A challenge for the second step: its token, shown once; only its hash is stored. */
  async openChallenge(
    trx: Kysely<Database>,
    user: { id: string; organization_id: string },
    purpose: ChallengePurpose,
  ): Promise<SignInChallenge> {
    const token = `${CHALLENGE_PREFIX}${randomBytes(32).toString('base64url')}`;
    const methods: SignInChallenge['methods'] = [];
    if (purpose === 'enrol') methods.push('totp');
    else {
      if ((await findTotpFactor(trx, user.id))?.confirmed_at) methods.push('totp');
      if ((await countPasskeys(trx, user.id)) > 0) methods.push('passkey');
      methods.push('recovery_code');
    }
    const row = await insertChallenge(trx, {
      tokenHash: hashSecret(token),
      userId: user.id,
      organizationId: user.organization_id,
      purpose,
      ttlSeconds: this.challengeTtlSeconds,
    });
    return { token, purpose, expiresAt: new Date(row.expires_at), methods };
  }

  /**
   * Spends a proof of the user's second factor inside `trx`: a TOTP code of a step within ±1 of
   * now and later than the last one used, or an unused recovery code. Answers what it was, or
   * null for a wrong, replayed or used one.
   */
  async prove(
    trx: Kysely<Database>,
    userId: string,
    proof: FactorProof,
  ): Promise<'otp' | 'recovery_code' | null> {
    if ('recoveryCode' in proof) {
      const normalized = normalizeRecoveryCode(proof.recoveryCode);
      if (normalized === null) return null;
      // Recovery codes stand in for any factor (an authenticator app or a passkey).
      return (await useRecoveryCode(trx, userId, hashRecoveryCode(normalized))) ? 'recovery_code' : null;
    }
    const factor = await findTotpFactor(trx, userId);
    if (!factor?.confirmed_at) return null;
    const step = matchTotp(this.secretOf(factor.secret_sealed, userId), proof.code, this.now());
    if (step === null) return null;
    return (await takeTotpStep(trx, { userId, step, confirm: false })) ? 'otp' : null;
  }

  /** The pending secret of a user enrolling during sign-in, and its first code (see `confirmTotp`). */
  async confirmPending(trx: Kysely<Database>, userId: string, code: string): Promise<boolean> {
    const factor = await findTotpFactor(trx, userId);
    if (!factor || factor.confirmed_at) return false;
    const step = matchTotp(this.secretOf(factor.secret_sealed, userId), code, this.now());
    return step !== null && takeTotpStep(trx, { userId, step, confirm: true });
  }

  /** Stores ten new recovery codes for the user; returns them to show once. */
  async issueRecoveryCodes(trx: Kysely<Database>, userId: string): Promise<string[]> {
    const codes = newRecoveryCodes();
    await replaceRecoveryCodes(trx, userId, codes.map(hashOf));
    return codes;
  }

  /** Refuses a user whose factor is locked by wrong codes (as a locked account is at the password). */
  async checkThrottle(userId: string, ip: string | null | undefined): Promise<void> {
    const decision = await this.options.throttle.check(throttleKeys(userId, ip));
    if (!decision.allowed) {
      throw new PlatformError('TOO_MANY_REQUESTS', 'too many wrong codes; try again later', {
        'Retry-After': String(decision.retryAfterSeconds),
      });
    }
  }

  /** Counts a wrong code on the user's factor (and the address). */
  async recordWrongCode(userId: string, ip: string | null | undefined): Promise<void> {
    await this.options.throttle.recordFailure(throttleKeys(userId, ip));
  }

  private async refuse(
    actor: Actor,
    type: 'second_factor_enrolled' | 'recovery_codes_regenerated' | 'second_factor_removed',
    reason: string,
  ) {
    await this.recordWrongCode(actor.userId, IN_SESSION);
    await this.options.database.transaction((trx) =>
      this.options.audit.record(trx, {
        type,
        result: 'failure',
        actor: auditActor(actor),
        target: { type: 'user', id: actor.userId },
        details: { reason },
      }),
    );
  }

  private secretOf(sealed: string, userId: string): string {
    return openSecret(sealed, this.options.kek, sealContext(userId));
  }
}

/** Whether the user has an active factor: a confirmed authenticator app or a passkey. */
export async function hasFactor(db: Kysely<Database>, userId: string): Promise<boolean> {
  const totp = await findTotpFactor(db, userId);
  return Boolean(totp?.confirmed_at) || (await countPasskeys(db, userId)) > 0;
}

/** Whether a string has the shape of a challenge token (cheap refusal before any lookup). */
export function isChallengeToken(candidate: string): boolean {
  return CHALLENGE.test(candidate);
}

function throttleKeys(userId: string, ip: string | null | undefined): string[] {
  return ip ? [factorKey(userId), ipKey(ip)] : [factorKey(userId)];
}

// A sealed secret copied to another user's row does not open there.
function sealContext(userId: string): string {
  return `totp_factors:${userId}`;
}

function hashOf(code: string): string {
  return hashRecoveryCode(normalizeRecoveryCode(code)!);
}
