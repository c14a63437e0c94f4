import { signedIn } from '../../../../shared/auth';
import {
  passkeyRequestOptions,
  recoveryCodes,
  secondFactorRequirement,
  secondFactorRequirementChange,
  totpEnrolment,
} from '../../../../shared/second-factor';
import { restRoutes } from '../route';

/** REST routes of `auth.secondFactor.*` (docs/security.md, "Second factor"). */
export const secondFactorRoutes = restRoutes({
  'auth.secondFactor.verify': {
    method: 'POST',
    path: '/auth/second-factor/verify',
    summary: 'Sign-in’s second step: the challenge `POST /auth/login` answered, and a code',
    description:
      'Send `challenge` with either `code` (the 6 digits of the authenticator app; each works once) ' +
      'or `recoveryCode` (each works once). Answers the tokens of the new session, as `POST ' +
      '/auth/login` does for an account without a second factor. A wrong code answers 401; five ' +
      'wrong codes end the challenge, and wrong codes lock the account’s factor as wrong passwords do.',
    output: signedIn,
    refusals: ['UNAUTHORIZED'],
  },
  'auth.secondFactor.passkeyOptions': {
    method: 'POST',
    path: '/auth/second-factor/passkey-options',
    summary: 'For a user with passkeys: the WebAuthn options of `navigator.credentials.get()`',
    description:
      'Send the challenge `POST /auth/login` answered (its `methods` include `passkey`). A browser ' +
      'call: the request’s Origin must be this server’s own (400 otherwise).',
    output: passkeyRequestOptions,
    refusals: ['UNAUTHORIZED'],
  },
  'auth.secondFactor.verifyPasskey': {
    method: 'POST',
    path: '/auth/second-factor/verify-passkey',
    summary: 'Sign-in’s second step with a passkey: the challenge and the credential’s answer',
    description:
      'The answer of `navigator.credentials.get()` to the options of ' +
      '`POST /auth/second-factor/passkey-options`, as `PublicKeyCredential.toJSON()` gives it. ' +
      'Answers the session’s tokens (`amr` `["pwd", "hwk"]`).',
    output: signedIn,
    refusals: ['UNAUTHORIZED'],
  },
  'auth.secondFactor.passwordless.options': {
    method: 'POST',
    path: '/auth/passkey/options',
    summary: 'Passwordless sign-in: the WebAuthn options of `navigator.credentials.get()`',
    description:
      'No credential is listed: a discoverable passkey names its user. A browser call: the ' +
      'request’s Origin must be this server’s own (400 otherwise). The challenge works once, for 5 minutes.',
    output: passkeyRequestOptions,
  },
  'auth.secondFactor.passwordless.signIn': {
    method: 'POST',
    path: '/auth/passkey/sign-in',
    summary: 'Passwordless sign-in: a passkey’s answer, verified with its own PIN or biometric',
    description:
      'Answers the session’s tokens (`amr` `["hwk", "mfa"]`, `acr` `aal2`), as `POST /auth/login` ' +
      'does. Any unusable answer (unknown passkey, used or foreign challenge, no user verification) is 401.',
    output: signedIn,
    refusals: ['UNAUTHORIZED'],
  },
  'auth.secondFactor.enrolment.begin': {
    method: 'POST',
    path: '/auth/second-factor/enrolment',
    summary: 'For an `enrol` challenge: a new TOTP secret and its otpauth:// URI',
    description:
      'When your organization requires a second factor and you have none, `POST /auth/login` answers ' +
      'a challenge of purpose `enrol`: show the URI as a QR code, then send its first code to ' +
      '`POST /auth/second-factor/enrolment/finish`.',
    output: totpEnrolment,
    refusals: ['UNAUTHORIZED'],
  },
  'auth.secondFactor.enrolment.finish': {
    method: 'POST',
    path: '/auth/second-factor/enrolment/finish',
    summary: 'For an `enrol` challenge: the first code; answers the session and ten recovery codes',
    description: 'The recovery codes are shown this once: each signs in once in place of a code.',
    output: signedIn.extend(recoveryCodes.shape),
    refusals: ['UNAUTHORIZED'],
  },
  'auth.secondFactor.requirement': {
    method: 'GET',
    path: '/organization/second-factor',
    summary: 'Whether your organization requires a second factor of its members',
    output: secondFactorRequirement,
  },
  'auth.secondFactor.setRequirement': {
    method: 'PUT',
    path: '/organization/second-factor',
    summary: 'Require a second factor of your organization’s members, or stop requiring it',
    description:
      'Turning it on ends the sessions opened without one (`revokedSessions`); members without a ' +
      'factor enrol one at their next sign-in.',
    output: secondFactorRequirementChange,
  },
});
