export { TRPCClientError } from '@trpc/client';
export {
  type AuthSession,
  type SecondFactorChallenge,
  SecondFactorRequiredError,
  type SessionCredentials,
  type SessionTokens,
} from './auth-session';
export type { CallContext } from './call-link';
export {
  type ClientOptions,
  createClient,
  type PlatformClient,
  sessionOf,
  type TraceContextHeaders,
} from './client';
export {
  type ClientErrorCode,
  errorDetails,
  PlatformClientError,
  type PlatformErrorCode,
  type ValidationIssues,
} from './errors';
export type { FetchLike } from './fetch';
export type { RetryOptions } from './retry';
export type { AppRouter, RouterInputs, RouterOutputs } from './types';
