import { signedIn } from '../../../../shared/auth';
import {
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
