import {
  challengeCodeInput,
  challengeInput,
  passkeyRegisterInput,
  passkeyRemoveInput,
  passkeyRequestOptions,
  passkeySignInInput,
  passkeyVerifyInput,
  regenerateInput,
  requirementInput,
  secondFactorRemoveInput,
  secondFactorVerifyInput,
  totpCodeInput,
} from '../../../shared/second-factor';
import { PlatformError } from '../../base/errors';
import type { RelyingParty } from '../../services/auth/passkeys';
import type { SignInChallenge } from '../../services/auth/session-types';
import type { Context } from '../context';
import { guardedPublicProcedure, roleProcedure, router, sessionProcedure } from '../trpc';
import { actorOf } from './actor';
import { deliver, limitByIp } from './sign-in';

/**
 * Where a WebAuthn ceremony runs: the page's origin (the Origin header a browser sends) and the
 * relying party id. With AUTH_PASSKEY_ORIGINS, the origin must be one of them and the id is
 * AUTH_PASSKEY_RP_ID (or the first origin's host); without, the origin must be this server's own
 * (its host the request's Host) and the id its host name. The browser signs the origin it ran on,
 * so a page elsewhere (a phishing copy) gets a signature that never verifies.
 */
function relyingParty(ctx: Context): RelyingParty {
  const header = ctx.http?.header('origin');
  let url: URL | null = null;
  try {
    url = header ? new URL(header) : null;
  } catch {
    url = null;
  }
  const { AUTH_PASSKEY_ORIGINS: origins, AUTH_PASSKEY_RP_ID: rpId } = ctx.deps.config;
  if (origins.length > 0) {
    const allowed = origins.map((origin) => new URL(origin));
    if (!url || !allowed.some((origin) => origin.origin === url.origin)) {
      throw new PlatformError('BAD_REQUEST', 'passkeys work from the pages of AUTH_PASSKEY_ORIGINS only');
    }
    return { rpID: rpId ?? allowed[0]!.hostname, origin: url.origin };
  }
  if (!url || !ctx.http || url.host !== ctx.http.host) {
    throw new PlatformError(
      'BAD_REQUEST',
      "passkeys work from this server's own pages (the Origin must be its own)",
    );
  }
  return { rpID: url.hostname, origin: url.origin };
}

/** Where the request came from, for the audit log and the address throttle. */
function originOf(ctx: Context) {
  return { ip: ctx.http?.ip() ?? null, userAgent: ctx.http?.userAgent() ?? null };
}

/**
 * `auth.secondFactor`: the caller's TOTP factor and recovery codes, the organization's
 * requirement, and sign-in's second step (public: it takes the challenge `auth.login` answered).
 */
export const secondFactorRouter = router({
  /** The caller's factors, and whether the organization requires one. */
  status: sessionProcedure.query(({ ctx }) => ctx.deps.auth.factors.status(ctx.principal)),

  totp: router({
    /** A new secret and its otpauth:// URI (the QR code), pending its first code. */
    begin: sessionProcedure.mutation(({ ctx }) => ctx.deps.auth.factors.beginTotp(ctx.principal)),
    /** The first code activates the secret; answers ten recovery codes, shown this once. */
    confirm: sessionProcedure
      .input(totpCodeInput)
      .mutation(({ ctx, input }) =>
        ctx.deps.auth.factors.confirmTotp(actorOf(ctx, ctx.principal), input.code),
      ),
  }),

  passkeys: router({
    /** The caller's passkeys. */
    list: sessionProcedure.query(({ ctx }) => ctx.deps.auth.passkeys.list(ctx.principal.userId)),
    /** The options of `navigator.credentials.create()` for a new passkey. */
    registrationOptions: sessionProcedure.mutation(({ ctx }) =>
      ctx.deps.auth.passkeys.registrationOptions(ctx.principal, relyingParty(ctx)),
    ),
    /** Stores the new passkey; the caller's first factor comes with ten recovery codes. */
    register: sessionProcedure
      .input(passkeyRegisterInput)
      .mutation(({ ctx, input }) =>
        ctx.deps.auth.passkeys.register(
          actorOf(ctx, ctx.principal),
          { response: input.credential as never, name: input.name },
          relyingParty(ctx),
        ),
      ),
    /** Removes one of the caller's passkeys, for the password. */
    remove: sessionProcedure
      .input(passkeyRemoveInput)
      .mutation(({ ctx, input }) => ctx.deps.auth.passkeys.remove(actorOf(ctx, ctx.principal), input)),
  }),

  /** Ten new recovery codes in place of the old ones, for a current code or the password. */
  regenerateRecoveryCodes: sessionProcedure
    .input(regenerateInput)
    .mutation(({ ctx, input }) =>
      ctx.deps.auth.factors.regenerateRecoveryCodes(actorOf(ctx, ctx.principal), input),
    ),

  /** Removes the caller's factor and recovery codes, for a current code or the password. */
  remove: sessionProcedure
    .input(secondFactorRemoveInput)
    .mutation(({ ctx, input }) => ctx.deps.auth.factors.remove(actorOf(ctx, ctx.principal), input)),

  /** Whether the organization requires a second factor of its members. */
  requirement: roleProcedure('admin', 'auth:read').query(({ ctx }) =>
    ctx.deps.auth.factors.requirement(actorOf(ctx, ctx.principal)),
  ),
  /** Requires it (ending the sessions opened without one) or stops requiring it. */
  setRequirement: roleProcedure('admin', 'auth:write')
    .input(requirementInput)
    .mutation(async ({ ctx, input }) => {
      const changed = await ctx.deps.auth.factors.setRequirement(actorOf(ctx, ctx.principal), input.required);
      return changed;
    }),

  /** Sign-in's second step: the challenge and a TOTP code or a recovery code, for the session. */
  verify: guardedPublicProcedure.input(secondFactorVerifyInput).mutation(async ({ ctx, input }) => {
    await limitByIp(ctx, 'login');
    const issued = await ctx.deps.auth.secondStep.verify({
      challenge: input.challenge,
      proof: input.code !== undefined ? { code: input.code } : { recoveryCode: input.recoveryCode! },
      ...originOf(ctx),
    });
    return { ...deliver(ctx, issued), user: issued.user };
  }),

  /** For a `verify` challenge of a user with passkeys: the options of `navigator.credentials.get()`. */
  passkeyOptions: guardedPublicProcedure.input(challengeInput).mutation(async ({ ctx, input }) => {
    await limitByIp(ctx, 'login');
    const options = await ctx.deps.auth.secondStep.passkeyOptions({
      challenge: input.challenge,
      party: relyingParty(ctx),
      ...originOf(ctx),
    });
    // Typed by the shared schema, which the REST reference shows.
    return passkeyRequestOptions.parse(options);
  }),
  /** The second step with a passkey's answer to `passkeyOptions`. */
  verifyPasskey: guardedPublicProcedure.input(passkeyVerifyInput).mutation(async ({ ctx, input }) => {
    await limitByIp(ctx, 'login');
    const issued = await ctx.deps.auth.secondStep.verify({
      challenge: input.challenge,
      proof: { passkey: input.passkey as never, party: relyingParty(ctx) },
      ...originOf(ctx),
    });
    return { ...deliver(ctx, issued), user: issued.user };
  }),

  /** Passwordless sign-in with a passkey that verifies its user (PIN or biometric). */
  passwordless: router({
    /** The options of `navigator.credentials.get()`, no credential listed: the passkey names its user. */
    options: guardedPublicProcedure.mutation(async ({ ctx }) => {
      await limitByIp(ctx, 'login');
      return passkeyRequestOptions.parse(await ctx.deps.auth.passkeySignIn.begin(relyingParty(ctx)));
    }),
    /** The passkey's answer: the session's tokens (`amr` ["hwk", "mfa"]). */
    signIn: guardedPublicProcedure.input(passkeySignInInput).mutation(async ({ ctx, input }) => {
      await limitByIp(ctx, 'login');
      const issued = await ctx.deps.auth.passkeySignIn.finish({
        response: input.passkey as never,
        party: relyingParty(ctx),
        ...originOf(ctx),
      });
      return { ...deliver(ctx, issued), user: issued.user };
    }),
  }),

  enrolment: router({
    /** For an `enrol` challenge (the organization requires a factor): a new secret and its URI. */
    begin: guardedPublicProcedure.input(challengeInput).mutation(async ({ ctx, input }) => {
      await limitByIp(ctx, 'login');
      return ctx.deps.auth.secondStep.beginEnrolment({ challenge: input.challenge, ...originOf(ctx) });
    }),
    /** Its first code: the session, and ten recovery codes shown this once. */
    finish: guardedPublicProcedure.input(challengeCodeInput).mutation(async ({ ctx, input }) => {
      await limitByIp(ctx, 'login');
      const { issued, recoveryCodes } = await ctx.deps.auth.secondStep.finishEnrolment({
        challenge: input.challenge,
        code: input.code,
        ...originOf(ctx),
      });
      return { ...deliver(ctx, issued), user: issued.user, recoveryCodes };
    }),
  }),
});

/** `auth.login`'s answer when a second step follows the password. */
export function secondFactorChallengeOf(challenge: SignInChallenge) {
  return {
    secondFactor: {
      challenge: challenge.token,
      purpose: challenge.purpose,
      expiresAt: challenge.expiresAt.toISOString(),
      methods: challenge.methods,
    },
  };
}
