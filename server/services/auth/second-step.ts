import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  endChallenge,
  findChallenge,
  lockChallenge,
  recordChallengeFailure,
} from '../../../db/repositories/second-factors';
import type {
  ChallengePurpose,
  SecondFactorChallengeRow,
} from '../../../db/repositories/second-factors.table';
import { findUserById, isOrganizationSuspended } from '../../../db/repositories/users';
import type { RequestOrigin } from '../../base/actor';
import type { AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import { factorKey, type LoginThrottle } from './login-throttle';
import type { PasskeyService, RelyingParty } from './passkeys';
import {
  type FactorProof,
  isChallengeToken,
  type SecondFactorService,
  type TotpEnrolment,
} from './second-factors';
import { hashSecret } from './secrets';
import type { IssuedSession } from './session-types';
import type { AuthMethod, OpenedSession, SessionService } from './sessions';
import { toUserView } from './user-views';

export interface SecondStepOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  throttle: LoginThrottle;
  factors: SecondFactorService;
  passkeys: PasskeyService;
  sessions: SessionService;
}

/** A passkey's answer to `passkeyOptions`, and where the page that got it runs. */
export interface PasskeyProof {
  passkey: AuthenticationResponseJSON;
  party: RelyingParty;
}

/** Wrong codes one challenge takes before it ends (and the password must be given again). */
export const CHALLENGE_MAX_FAILURES = 5;

// One answer for every challenge that cannot be used (unknown, expired, used, ended, of the
// other purpose): which it was is for the audit log.
const CHALLENGE_REFUSED = 'the sign-in challenge is invalid or has expired; sign in again';
const MAX_USER_AGENT = 512;

type Outcome<T> = { kind: 'done'; value: T } | { kind: 'wrong_code' } | { kind: 'refused'; reason: string };

/**
 * The second step of sign-in: a challenge from `SessionService.signIn` and the second factor
 * (verify), or the enrolment of one the organization requires (enrol). The challenge is single
 * use and short-lived; wrong codes count on the user's factor throttle (the lockout of the first
 * step, by user and address) and on the challenge, which ends after `CHALLENGE_MAX_FAILURES`.
 */
export class SecondStep {
  constructor(private readonly options: SecondStepOptions) {}

  /**
   * The challenge and a TOTP code or a recovery code (a session with `amr` ["pwd", "otp"]), or a
   * passkey's assertion of the challenge `passkeyOptions` gave (["pwd", "hwk"]).
   */
  async verify(
    input: { challenge: string; proof: FactorProof | PasskeyProof } & RequestOrigin,
  ): Promise<IssuedSession> {
    const origin = originOf(input);
    const challenge = await this.usableChallenge(input.challenge, 'verify', origin);
    const { proof } = input;
    const method = 'passkey' in proof ? 'passkey' : 'recoveryCode' in proof ? 'recovery_code' : 'totp';
    const outcome = await this.attempt(challenge, origin, method, async (trx, locked) => {
      if ('passkey' in proof) {
        const ok = await this.options.passkeys.prove(
          trx,
          challenge.user_id,
          proof.passkey,
          locked.webauthn_challenge,
          proof.party,
        );
        if (!ok) return null;
        return {
          type: 'second_factor_verified' as const,
          details: { method },
          extra: {},
          amr: ['pwd', 'hwk'],
        };
      }
      const proven = await this.options.factors.prove(trx, challenge.user_id, proof);
      if (!proven) return null;
      if (proven === 'recovery_code') {
        await this.options.audit.record(trx, {
          type: 'recovery_code_used',
          result: 'success',
          actor: { organizationId: challenge.organization_id, userId: challenge.user_id, ...origin },
          target: { type: 'user', id: challenge.user_id },
        });
      }
      return { type: 'second_factor_verified' as const, details: { method }, extra: {}, amr: ['pwd', 'otp'] };
    });
    return (await this.finish(challenge, outcome)).issued;
  }

  /** For a `verify` challenge of a user with passkeys: the options of `navigator.credentials.get()`. */
  async passkeyOptions(
    input: { challenge: string; party: RelyingParty } & RequestOrigin,
  ): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const challenge = await this.usableChallenge(input.challenge, 'verify', originOf(input));
    return this.options.database.transaction((trx) =>
      this.options.passkeys.authenticationOptions(trx, challenge, input.party),
    );
  }

  /** For an `enrol` challenge: a new TOTP secret and its QR code's URI, pending its first code. */
  async beginEnrolment(input: { challenge: string } & RequestOrigin): Promise<TotpEnrolment> {
    const challenge = await this.usableChallenge(input.challenge, 'enrol', originOf(input));
    return this.options.factors.beginTotp({
      userId: challenge.user_id,
      organizationId: challenge.organization_id,
    });
  }

  /**
   * For an `enrol` challenge: the first code of the pending secret activates it and opens the
   * session; the ten recovery codes come with it, to be shown this once.
   */
  async finishEnrolment(
    input: { challenge: string; code: string } & RequestOrigin,
  ): Promise<{ issued: IssuedSession; recoveryCodes: string[] }> {
    const origin = originOf(input);
    const challenge = await this.usableChallenge(input.challenge, 'enrol', origin);
    const outcome = await this.attempt(challenge, origin, 'totp', async (trx) => {
      if (!(await this.options.factors.confirmPending(trx, challenge.user_id, input.code))) return null;
      const recoveryCodes = await this.options.factors.issueRecoveryCodes(trx, challenge.user_id);
      return {
        type: 'second_factor_enrolled' as const,
        details: { method: 'totp', recoveryCodes: recoveryCodes.length, duringSignIn: true },
        extra: { recoveryCodes },
        amr: ['pwd', 'otp'],
      };
    });
    const { issued, extra } = await this.finish(challenge, outcome);
    return { issued, recoveryCodes: extra.recoveryCodes };
  }

  /** The challenge behind a token, if it can still be used for `purpose`; else the one refusal. */
  private async usableChallenge(
    token: string,
    purpose: ChallengePurpose,
    origin: RequestOrigin,
  ): Promise<SecondFactorChallengeRow> {
    const challenge = isChallengeToken(token)
      ? await this.options.database.read((db) => findChallenge(db, hashSecret(token)))
      : undefined;
    if (!challenge?.usable || challenge.purpose !== purpose) {
      if (challenge) await this.audit(challenge, origin, 'failure', { reason: reasonOf(challenge, purpose) });
      throw new PlatformError('UNAUTHORIZED', CHALLENGE_REFUSED);
    }
    await this.options.factors.checkThrottle(challenge.user_id, origin.ip);
    return challenge;
  }

  /**
   * Runs `prove` under the challenge's row lock (two requests with one challenge are decided one
   * after the other: the second finds it used) and, when it succeeds, opens the session in the
   * same transaction. A wrong code is counted on the challenge there too.
   */
  private async attempt<E>(
    challenge: SecondFactorChallengeRow,
    origin: RequestOrigin,
    method: string,
    prove: (
      trx: Kysely<Database>,
      locked: SecondFactorChallengeRow,
    ) => Promise<{
      type: 'second_factor_verified' | 'second_factor_enrolled';
      details: Record<string, unknown>;
      extra: E;
      amr: AuthMethod[];
    } | null>,
  ): Promise<{ opened: OpenedSession; extra: E }> {
    const { database, audit, sessions } = this.options;
    const outcome = await database.transaction(
      async (trx): Promise<Outcome<{ opened: OpenedSession; extra: E }>> => {
        const locked = await lockChallenge(trx, challenge.token_hash);
        if (!locked?.usable) return { kind: 'refused', reason: 'used_or_expired' };
        const user = await findUserById(trx, locked.user_id);
        if (!user || user.disabled || (await isOrganizationSuspended(trx, user.organization_id))) {
          await endChallenge(trx, locked.id);
          return { kind: 'refused', reason: 'user_unavailable' };
        }
        const proven = await prove(trx, locked);
        if (!proven) {
          const failures = await recordChallengeFailure(trx, locked.id);
          if (failures >= CHALLENGE_MAX_FAILURES) await endChallenge(trx, locked.id);
          return { kind: 'wrong_code' };
        }
        await endChallenge(trx, locked.id);
        const opened = await sessions.openSession(trx, { user, origin, amr: proven.amr });
        await audit.record(trx, {
          type: proven.type,
          result: 'success',
          actor: { organizationId: user.organization_id, userId: user.id, ...origin },
          target: { type: 'session', id: opened.sessionId },
          details: proven.details,
        });
        return { kind: 'done', value: { opened, extra: proven.extra } };
      },
    );
    if (outcome.kind === 'wrong_code') {
      await this.options.factors.recordWrongCode(challenge.user_id, origin.ip);
      await this.audit(challenge, origin, 'failure', { reason: 'wrong_code', method });
      throw new PlatformError('UNAUTHORIZED', 'the code is not valid');
    }
    if (outcome.kind === 'refused') {
      await this.audit(challenge, origin, 'failure', { reason: outcome.reason });
      throw new PlatformError('UNAUTHORIZED', CHALLENGE_REFUSED);
    }
    return outcome.value;
  }

  /** Clears the factor's failure count and signs the session's first access token. */
  private async finish<E>(
    challenge: SecondFactorChallengeRow,
    outcome: { opened: OpenedSession; extra: E },
  ): Promise<{ issued: IssuedSession; extra: E }> {
    await this.options.throttle.recordSuccess(factorKey(challenge.user_id));
    const user = await this.options.database.read((db) => findUserById(db, challenge.user_id));
    if (!user) throw new PlatformError('UNAUTHORIZED', CHALLENGE_REFUSED);
    const issued = await this.options.sessions.issue({ userView: toUserView(user), ...outcome.opened });
    return { issued, extra: outcome.extra };
  }

  private async audit(
    challenge: SecondFactorChallengeRow,
    origin: RequestOrigin,
    result: 'success' | 'failure',
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.options.database.transaction((trx) =>
      this.options.audit.record(trx, {
        type: challenge.purpose === 'enrol' ? 'second_factor_enrolled' : 'second_factor_verified',
        result,
        actor: { organizationId: challenge.organization_id, userId: challenge.user_id, ...origin },
        target: { type: 'user', id: challenge.user_id },
        details,
      }),
    );
  }
}

function originOf(input: RequestOrigin): RequestOrigin {
  return { ip: input.ip ?? null, userAgent: input.userAgent?.slice(0, MAX_USER_AGENT) ?? null };
}

function reasonOf(
  challenge: SecondFactorChallengeRow & { usable: boolean },
  purpose: ChallengePurpose,
): string {
  if (challenge.purpose !== purpose) return 'wrong_purpose';
  return challenge.used_at ? 'challenge_used' : 'challenge_expired';
}
