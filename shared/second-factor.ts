import { z } from 'zod';

/**
 * The second factor (docs/security.md, "Second factor"): TOTP (RFC 6238) and one-time recovery
 * codes. Sign-in is two steps when a user has a factor, or when their organization requires one
 * and they have none yet (then the second step is enrolling one).
 */

/** What the sign-in's second step asks for: a factor's proof, or enrolling a factor first. */
export const CHALLENGE_PURPOSES = ['verify', 'enrol'] as const;
export type ChallengePurpose = (typeof CHALLENGE_PURPOSES)[number];

/** `bcsf_` and 43 base64url characters (256 random bits). */
const challengeToken = z
  .string()
  .max(64)
  .regex(/^bcsf_[A-Za-z0-9_-]{43}$/, 'must be the challenge of a sign-in');
const totpCode = z.string().regex(/^\d{6}$/, 'must be the 6 digits your authenticator app shows');
/** As printed (`xxxx-xxxx-xxxx-xxxx`); case, spaces and dashes do not matter. */
const recoveryCode = z.string().min(1).max(40);
const password = z.string().min(1, 'must not be empty').max(1024);

/**
 * `auth.login` for a user who must take a second step: no tokens yet, a challenge valid for a few
 * minutes and one sign-in, to send with the code (`auth.secondFactor.verify`) or, for `enrol`,
 * to enrol a factor with (`auth.secondFactor.enrolment.begin`, then `.finish`).
 */
export const secondFactorChallenge = z.object({
  secondFactor: z.object({
    challenge: z.string(),
    purpose: z.enum(CHALLENGE_PURPOSES),
    expiresAt: z.string().describe('ISO 8601 date-time'),
    /** What the second step accepts: a TOTP code or a recovery code (verify); a new TOTP (enrol). */
    methods: z.array(z.enum(['totp', 'passkey', 'recovery_code'])),
  }),
});
export type SecondFactorChallenge = z.infer<typeof secondFactorChallenge>;

/** The second step: the challenge and either a TOTP code or a recovery code. */
export const secondFactorVerifyInput = z
  .object({ challenge: challengeToken, code: totpCode.optional(), recoveryCode: recoveryCode.optional() })
  .refine((input) => (input.code === undefined) !== (input.recoveryCode === undefined), {
    message: 'send either code or recoveryCode',
  });
export const challengeInput = z.object({ challenge: challengeToken });
export const challengeCodeInput = z.object({ challenge: challengeToken, code: totpCode });
export const totpCodeInput = z.object({ code: totpCode });
/** Removing the factor: a current code or the password proves the caller is its owner. */
export const secondFactorRemoveInput = z
  .object({ code: totpCode.optional(), password: password.optional() })
  .refine((input) => input.code !== undefined || input.password !== undefined, {
    message: 'send a current code or your password',
  });
export const requirementInput = z.object({ required: z.boolean() });
/** New recovery codes: a current code, or the password (for a user with passkeys only). */
export const regenerateInput = z
  .object({ code: totpCode.optional(), password: password.optional() })
  .refine((input) => input.code !== undefined || input.password !== undefined, {
    message: 'send a current code or your password',
  });

/** A TOTP secret waiting for its first code: the `otpauth://` URI (the QR code) and the secret itself. */
export const totpEnrolment = z.object({
  /** Base32, for typing into an app that cannot scan. */
  secret: z.string(),
  uri: z.string(),
  issuer: z.string(),
  account: z.string(),
});

/** Ten recovery codes, shown this once: each signs in once in place of a code. */
export const recoveryCodes = z.object({ recoveryCodes: z.array(z.string()) });

/** `auth.secondFactor.status`: the caller's factors. */
export const secondFactorStatus = z.object({
  totp: z.enum(['none', 'pending', 'active']),
  /** How many passkeys the caller holds. */
  passkeys: z.number().int(),
  recoveryCodesLeft: z.number().int(),
  /** The caller's organization requires a second factor. */
  requiredByOrganization: z.boolean(),
  /** This session was opened with a second factor. */
  sessionUsedSecondFactor: z.boolean(),
});

/** `auth.secondFactor.requirement`: whether the organization requires a second factor. */
export const secondFactorRequirement = z.object({
  organizationId: z.string(),
  required: z.boolean(),
});

/** `auth.secondFactor.setRequirement`: the requirement, and the sessions it ended (opened without a factor). */
export const secondFactorRequirementChange = secondFactorRequirement.extend({
  revokedSessions: z.number().int(),
});

/**
 * A credential id as WebAuthn gives it: base64url, at most 1023 bytes (1366 characters). Its form
 * is checked here because the id is looked up in the database, which refuses NUL in text.
 */
const credentialId = z
  .string()
  .min(1)
  .max(1366)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be a credential id (base64url)');

/**
 * A WebAuthn credential's answer as `PublicKeyCredential.toJSON()` gives it (base64url fields);
 * its content is checked by the server's WebAuthn verification.
 */
const publicKeyCredential = z.object({
  id: credentialId,
  rawId: credentialId,
  type: z.literal('public-key'),
  response: z.record(z.string(), z.unknown()),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.string().max(32).nullable().optional(),
});
export type PublicKeyCredentialInput = z.infer<typeof publicKeyCredential>;

/** The second step with a passkey: the challenge, and the credential's answer to `passkeyOptions`. */
export const passkeyVerifyInput = z.object({ challenge: challengeToken, passkey: publicKeyCredential });
/** A new passkey: the authenticator's answer to `registrationOptions`, and a name to tell it apart. */
export const passkeyRegisterInput = z.object({
  credential: publicKeyCredential,
  name: z.string().trim().min(1).max(100),
});
export const passkeyRemoveInput = z.object({ id: credentialId, password });

/** A passkey as its owner sees it. */
export const passkeyView = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string().describe('ISO 8601 date-time'),
  lastUsedAt: z.string().describe('ISO 8601 date-time').nullable(),
});

/** The WebAuthn options of `navigator.credentials.get()` (PublicKeyCredentialRequestOptionsJSON). */
export const passkeyRequestOptions = z.object({
  challenge: z.string(),
  rpId: z.string().optional(),
  timeout: z.number().optional(),
  userVerification: z.string().optional(),
  allowCredentials: z
    .array(
      z.object({ id: z.string(), type: z.literal('public-key'), transports: z.array(z.string()).optional() }),
    )
    .optional(),
  extensions: z.record(z.string(), z.unknown()).optional(),
  hints: z.array(z.string()).optional(),
});

/** Passwordless sign-in: a discoverable passkey's answer to `passwordless.options`. */
export const passkeySignInInput = z.object({ passkey: publicKeyCredential });
