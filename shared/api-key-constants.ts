// Plain constants without zod, so the dashboard can import them without bundling zod.

/**
 * What an API key may be allowed to do. A key never does more than its owner's role allows:
 * a procedure needs both the scope on the key and the minimum role on its owner.
 */
export const API_KEY_SCOPES = [
  'system:read',
  'system:write',
  'auth:read',
  'auth:write',
  'devops:read',
  'devops:write',
  'performance:read',
  'performance:write',
] as const;

/**
 * What a verification of an existing key ended in, as Unkey's dashboard breaks usage down:
 * `disabled` covers a disabled key, a disabled owner and a suspended organization (all answer
 * DISABLED), `revoked` a revoked key (answered NOT_FOUND). Malformed and unknown keys belong to
 * no key and are counted by the metric only.
 */
export const API_KEY_OUTCOMES = [
  'valid',
  'rate_limited',
  'usage_exceeded',
  'insufficient_scope',
  'expired',
  'disabled',
  'revoked',
] as const;
export type ApiKeyOutcome = (typeof API_KEY_OUTCOMES)[number];

/** The time ranges usage is shown over, each with the width of its buckets. */
export const API_KEY_USAGE_RANGES = {
  '24h': { spanSeconds: 86_400, bucketSeconds: 3_600 },
  '7d': { spanSeconds: 7 * 86_400, bucketSeconds: 6 * 3_600 },
  '30d': { spanSeconds: 30 * 86_400, bucketSeconds: 86_400 },
} as const;
export type ApiKeyUsageRange = keyof typeof API_KEY_USAGE_RANGES;
