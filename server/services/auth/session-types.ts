import type { AccessTokenClaims } from './access-tokens';
import type { UserView } from './user-views';

/** What the session service needs from the keyring: a signature over the claims it chooses. */
export interface AccessTokenSigner {
  signAccessToken(claims: AccessTokenClaims): Promise<{ token: string; expiresAt: Date }>;
}

/** What login and refresh answer: a new access token, the refresh token to use next, and who. */
export interface IssuedSession {
  accessToken: string;
  accessTokenExpiresAt: Date;
  /** Shown to the client once; only its hash is stored. */
  refreshToken: string;
  session: { id: string; expiresAt: Date };
  user: UserView;
}

/** A session as its owner sees it in a listing. */
export interface SessionView {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
  /** The session the listing was asked from. */
  current: boolean;
}

/** The second step a password leads to: a challenge token (shown once) for it, until `expiresAt`. */
export interface SignInChallenge {
  token: string;
  purpose: 'verify' | 'enrol';
  expiresAt: Date;
  /** What the second step accepts: the user's factors, and recovery codes. */
  methods: ('totp' | 'passkey' | 'recovery_code')[];
}

/** What a valid password leads to: a session, or a challenge for the second step. */
export type SignInResult =
  | { kind: 'session'; issued: IssuedSession }
  | { kind: 'challenge'; challenge: SignInChallenge };
