import { Hono } from 'hono';
import type { Keyring } from '../services/auth/keyring';
import type { AppEnv } from './env';

// A new key signs as soon as it is made, so verifiers that cache this document must fetch it again
// when they meet an unknown kid (jose's createRemoteJWKSet does); five minutes keeps that rare.
const CACHE_CONTROL = 'public, max-age=300';

/** The public keys access tokens are verified with (RFC 7517), for other services to verify ours. */
export function jwksRoutes(keyring: Keyring) {
  const app = new Hono<AppEnv>();

  app.get('/.well-known/jwks.json', (c) => c.json(keyring.jwks(), 200, { 'Cache-Control': CACHE_CONTROL }));

  return app;
}
