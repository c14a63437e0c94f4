import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { PlatformDatabase } from '../../../db/connect';
import {
  findPasskeyById,
  insertSignInChallenge,
  recordPasskeyUse,
  useSignInChallenge,
} from '../../../db/repositories/passkeys';
import { findUserById, isOrganizationSuspended } from '../../../db/repositories/users';
import type { RequestOrigin } from '../../base/actor';
import type { AuditLog } from '../../base/audit';
import { PlatformError } from '../../base/errors';
import type { RelyingParty } from './passkeys';
import type { SecondFactorService } from './second-factors';
import type { IssuedSession } from './session-types';
import type { SessionService } from './sessions';
import { toUserView } from './user-views';
import { webauthn } from './webauthn';

export interface PasskeySignInOptions {
  database: PlatformDatabase;
  audit: AuditLog;
  factors: SecondFactorService;
  sessions: SessionService;
}

const CEREMONY_SECONDS = 300;
const MAX_USER_AGENT = 512;
// One answer for every refusal: which check failed is for the audit log.
const REFUSED = 'the passkey could not be verified';

/**
 * Passwordless sign-in with a passkey: a discoverable credential names its user, and its
 * assertion with user verification (a PIN or a biometric on the authenticator) is two factors in
 * one, possession and knowledge or inherence (NIST SP 800-63B's multi-factor cryptographic
 * authenticator): the session's `amr` is ["hwk", "mfa"], `acr` aal2.
 */
export class PasskeySignIn {
  constructor(private readonly options: PasskeySignInOptions) {}

  /** The options of `navigator.credentials.get()`: no credentials listed, the passkey chooses. */
  async begin(party: RelyingParty): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const options = await (await webauthn()).generateAuthenticationOptions({
      rpID: party.rpID,
      userVerification: 'required',
      timeout: CEREMONY_SECONDS * 1000,
    });
    await this.options.database.transaction((trx) =>
      insertSignInChallenge(trx, { challenge: options.challenge, ttlSeconds: CEREMONY_SECONDS }),
    );
    return options;
  }

  /** Verifies the assertion against a challenge `begin` handed out (used once) and opens the session. */
  async finish(
    input: { response: AuthenticationResponseJSON; party: RelyingParty } & RequestOrigin,
  ): Promise<IssuedSession> {
    const { database, audit, factors, sessions } = this.options;
    const origin = { ip: input.ip ?? null, userAgent: input.userAgent?.slice(0, MAX_USER_AGENT) ?? null };
    const passkey = await database.read((db) => findPasskeyById(db, input.response.id));
    if (!passkey) throw new PlatformError('UNAUTHORIZED', REFUSED);
    await factors.checkThrottle(passkey.user_id, origin.ip);
    const outcome = await database.transaction(async (trx) => {
      const user = await findUserById(trx, passkey.user_id);
      if (!user || user.disabled || (await isOrganizationSuspended(trx, user.organization_id))) {
        return { kind: 'refused' as const, reason: 'user_unavailable', user };
      }
      let challenge: string | null = null;
      const verified = await (await webauthn())
        .verifyAuthenticationResponse({
          response: input.response,
          // The challenge must be one handed out and not yet used; spending it here makes a
          // replayed assertion fail.
          expectedChallenge: async (candidate) => {
            challenge = candidate;
            return useSignInChallenge(trx, candidate);
          },
          expectedOrigin: input.party.origin,
          expectedRPID: input.party.rpID,
          credential: {
            id: passkey.id,
            publicKey: new Uint8Array(passkey.public_key),
            counter: Number(passkey.counter),
            transports: passkey.transports as never,
          },
          requireUserVerification: true,
        })
        .catch(() => null);
      if (!verified?.verified || challenge === null)
        return { kind: 'refused' as const, reason: 'bad_assertion', user };
      const forward = await recordPasskeyUse(trx, {
        id: passkey.id,
        userId: user.id,
        counter: verified.authenticationInfo.newCounter,
      });
      if (!forward) return { kind: 'refused' as const, reason: 'counter_went_back', user };
      const opened = await sessions.openSession(trx, { user, origin, amr: ['hwk', 'mfa'] });
      await audit.record(trx, {
        type: 'login',
        result: 'success',
        actor: { organizationId: user.organization_id, userId: user.id, ...origin },
        target: { type: 'session', id: opened.sessionId },
        details: { method: 'passkey', passkeyId: passkey.id },
      });
      return { kind: 'opened' as const, opened, user };
    });
    if (outcome.kind === 'refused') {
      await factors.recordWrongCode(passkey.user_id, origin.ip);
      await database.transaction((trx) =>
        audit.record(trx, {
          type: 'login',
          result: 'failure',
          actor: { organizationId: passkey.organization_id, userId: null, ...origin },
          target: { type: 'user', id: passkey.user_id },
          details: { method: 'passkey', reason: outcome.reason },
        }),
      );
      throw new PlatformError('UNAUTHORIZED', REFUSED);
    }
    return sessions.issue({ userView: toUserView(outcome.user), ...outcome.opened });
  }
}
