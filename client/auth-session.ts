import { untilAborted } from '../shared/abortable';
import { PlatformClientError, toPlatformError } from './errors';

/**
 * How a session gets its first access token:
 * - `{ email, password }`: signs in (auth.login);
 * - `{ refreshToken }`: a refresh token kept from an earlier sign-in (servers, scripts);
 * - `'cookie'`: the HttpOnly refresh cookie of a browser that signed in before.
 */
export type SessionCredentials = { email: string; password: string } | { refreshToken: string } | 'cookie';

/** An access token and what renews it, as auth.login and auth.refresh issue them. */
export interface SessionTokens {
  accessToken: string;
  /** When the access token expires (ISO 8601, by the server's clock). */
  expiresAt: string;
  /** The next refresh token, used once; null in browsers, which hold it as an HttpOnly cookie. */
  refreshToken: string | null;
  session?: { id: string; expiresAt: string };
}

/** The challenge `auth.login` answers when a second step follows the password. */
export interface SecondFactorChallenge {
  challenge: string;
  /** verify: send a code (auth.secondFactor.verify); enrol: enrol a factor first (auth.secondFactor.enrolment). */
  purpose: 'verify' | 'enrol';
  expiresAt: string;
  methods: ('totp' | 'passkey' | 'recovery_code')[];
}

/**
 * Thrown by `login` for a user who signs in in two steps: take the second step with
 * `challenge`, then hand its tokens to `AuthSession.completeSignIn`.
 */
export class SecondFactorRequiredError extends Error {
  override name = 'SecondFactorRequiredError';

  constructor(readonly challenge: SecondFactorChallenge) {
    super(
      challenge.purpose === 'enrol'
        ? 'your organization requires a second factor: enrol one to sign in'
        : 'enter the code of your authenticator app (or a recovery code)',
    );
  }
}

/** The calls a session makes to the platform; the client builds them over its own HTTP link. */
export interface AuthTransport {
  login(credentials: { email: string; password: string }): Promise<SessionTokens>;
  /** With a token, sends it in the body; with null, relies on the browser's refresh cookie. */
  refresh(refreshToken: string | null): Promise<SessionTokens>;
  logout(accessToken: string): Promise<void>;
}

export interface AuthSessionOptions {
  credentials: SessionCredentials;
  transport: AuthTransport;
  /**
   * Called with every new token pair, before it is used. Servers persist the refresh token here:
   * each refresh rotates it, and presenting a rotated one again ends the whole session.
   */
  onTokens?: (tokens: SessionTokens) => void | Promise<void>;
  /** Called once when the session ends (refresh refused, sign-in refused, logout). */
  onSessionEnded?: (reason: PlatformClientError) => void;
  /** How long before the access token expires to renew it, at most half its lifetime. */
  refreshBeforeExpiryMs?: number;
  /** The time source, in epoch milliseconds (tests move it). */
  clock?: () => number;
}

/**
 * Holds a session's tokens and renews them one refresh at a time: any number of calls that find
 * the access token refused wait for the same refresh (single flight). Two refreshes with one
 * rotating token would look like theft to the server and end the session; this is what signs
 * out users of clients that lack it.
 *
 * Each token pair has a generation. A call notes the generation it was sent with; when refused,
 * it asks for a renewal *after* that generation, which is a no-op if another call renewed since.
 */
export class AuthSession {
  private current: SessionTokens | null = null;
  private refreshAt = Number.POSITIVE_INFINITY;
  private generation = 0;
  private renewal: Promise<void> | null = null;
  private ended: PlatformClientError | null = null;
  private readonly clock: () => number;

  constructor(private readonly options: AuthSessionOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /** The tokens in use, or null before the first sign-in and after the session ended. */
  tokens(): SessionTokens | null {
    return this.current ? { ...this.current } : null;
  }

  /** Why the session ended, or null while it can still make calls. */
  endedBy(): PlatformClientError | null {
    return this.ended;
  }

  /** The Authorization header for the next request, or null when there is no usable token. */
  authorization(): string | null {
    return this.current && !this.ended ? `Bearer ${this.current.accessToken}` : null;
  }

  /**
   * Makes sure a call has a token worth sending: the first sign-in, or a renewal when the token
   * is about to expire. Returns the generation the call goes out with. An ended session sends
   * calls without a token: public procedures still answer, the others answer UNAUTHORIZED.
   */
  async prepare(signal: AbortSignal): Promise<number> {
    if (this.ended) return this.generation;
    if (!this.current) {
      await untilAborted(this.renew(), signal);
    } else if (this.clock() >= this.refreshAt) {
      try {
        await untilAborted(this.renew(), signal);
      } catch (error) {
        // The token in hand is still valid for a while: a failed early renewal is not the call's
        // failure, unless the caller gave up or the session is over.
        if (signal.aborted || this.ended) throw error;
      }
    }
    return this.generation;
  }

  /**
   * Renews the tokens after the server refused those of `generation`: starts a refresh, joins the
   * one under way, or returns at once if the tokens changed since. Rejects when the session ended.
   */
  renewAfter(generation: number): Promise<void> {
    if (this.ended) return Promise.reject(this.ended);
    if (generation !== this.generation) return Promise.resolve();
    return this.renew();
  }

  /** Signs in with a password (a browser's login form), replacing whatever the session held. */
  async login(credentials: { email: string; password: string }): Promise<SessionTokens> {
    const issued = await this.options.transport.login(credentials);
    await this.accept(issued);
    return { ...issued };
  }

  /** Takes the tokens of a sign-in's second step (see `SecondFactorRequiredError`), as `login` would. */
  async completeSignIn(issued: SessionTokens): Promise<void> {
    await this.accept(issued);
  }

  /** Uses tokens kept from before (e.g. loaded from storage); onTokens is not called for them. */
  setTokens(tokens: SessionTokens): void {
    this.install({ ...tokens });
  }

  /** Ends the session on the server (its refresh token stops working) and forgets the tokens. */
  async logout(): Promise<void> {
    const token = this.current?.accessToken;
    try {
      if (token && !this.ended) await this.options.transport.logout(token);
    } finally {
      this.end(new PlatformClientError('signed out', { code: 'UNAUTHORIZED', httpStatus: 401 }));
    }
  }

  private renew(): Promise<void> {
    this.renewal ??= this.obtain().finally(() => {
      this.renewal = null;
    });
    return this.renewal;
  }

  private async obtain(): Promise<void> {
    const { credentials, transport } = this.options;
    let issued: SessionTokens;
    try {
      if (!this.current && typeof credentials === 'object' && 'email' in credentials) {
        issued = await transport.login(credentials);
      } else {
        const kept = typeof credentials === 'object' && 'refreshToken' in credentials;
        // Before the first refresh, the token given at construction; then the latest rotation.
        const token = this.current ? this.current.refreshToken : kept ? credentials.refreshToken : null;
        issued = await transport.refresh(token);
      }
    } catch (error) {
      const failure = toPlatformError(error);
      // Refused credentials stay refused: the session ends here rather than asking again per call.
      if (failure.code === 'UNAUTHORIZED') {
        this.end(
          new PlatformClientError(`the session has ended: ${failure.message}`, {
            code: 'UNAUTHORIZED',
            httpStatus: failure.httpStatus ?? 401,
            requestId: failure.requestId,
            path: failure.path,
            cause: failure,
          }),
        );
        throw this.ended;
      }
      throw failure;
    }
    await this.accept(issued);
  }

  private async accept(issued: SessionTokens): Promise<void> {
    const tokens: SessionTokens = {
      accessToken: issued.accessToken,
      expiresAt: issued.expiresAt,
      refreshToken: issued.refreshToken,
      ...(issued.session ? { session: { ...issued.session } } : {}),
    };
    this.install(tokens);
    try {
      await this.options.onTokens?.({ ...tokens });
    } catch (error) {
      // The new tokens stay in use (the old refresh token is spent); the callers learn that
      // persisting them failed.
      throw new PlatformClientError(
        `onTokens failed: ${error instanceof Error ? error.message : String(error)}`,
        { code: 'CLIENT_ERROR', cause: error },
      );
    }
  }

  private install(tokens: SessionTokens): void {
    this.current = tokens;
    this.ended = null;
    this.generation += 1;
    this.refreshAt = renewalTime(tokens, this.clock(), this.options.refreshBeforeExpiryMs ?? 60_000);
  }

  private end(reason: PlatformClientError): void {
    const first = this.ended === null;
    this.current = null;
    this.ended = reason;
    this.generation += 1;
    this.refreshAt = Number.POSITIVE_INFINITY;
    if (first) this.options.onSessionEnded?.(reason);
  }
}

/**
 * When to renew an access token received at `receivedAt`. The lifetime comes from the JWT's own
 * `exp - iat`, which no difference between our clock and the server's can distort (a client
 * clock minutes ahead would otherwise renew on every call); `expiresAt` is the fallback.
 * Never: a token whose lifetime cannot be told is renewed when refused.
 */
function renewalTime(tokens: SessionTokens, receivedAt: number, before: number): number {
  const lifetime = jwtLifetimeMs(tokens.accessToken) ?? Date.parse(tokens.expiresAt) - receivedAt;
  if (!(lifetime > 0)) return Number.POSITIVE_INFINITY;
  return receivedAt + lifetime - Math.min(before, lifetime / 2);
}

/** `exp - iat` of a JWT, read without verifying it (the server does that). */
function jwtLifetimeMs(token: string): number | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const claims = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as {
      exp?: unknown;
      iat?: unknown;
    };
    if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return null;
    return (claims.exp - claims.iat) * 1000;
  } catch {
    return null;
  }
}
