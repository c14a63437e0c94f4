import { z } from 'zod';

/**
 * What a verification of an existing key ended in, as Unkey's dashboard breaks usage down:
 * `disabled` covers a disabled key, a disabled owner and a suspended organization (all answer
 * DISABLED), `revoked` a key revoked or past its rotation's grace period (answered NOT_FOUND).
 * Malformed and unknown keys belong to no key and are counted by the metric only.
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

/** `auth.apiKeys.usage`: one key of your organization, over the last 24 hours, 7 or 30 days. */
export const apiKeyUsageInput = z.object({
  id: z.uuid({ message: 'must be an id (a UUID)' }),
  range: z.enum(['24h', '7d', '30d']).default('24h'),
});

const outcomeCounts = z.object(
  Object.fromEntries(API_KEY_OUTCOMES.map((outcome) => [outcome, z.number().int()])) as Record<
    ApiKeyOutcome,
    z.ZodNumber
  >,
);
export type ApiKeyOutcomeCounts = z.infer<typeof outcomeCounts>;

/** Every outcome at 0: the start of a sum. */
export function noOutcomes(): ApiKeyOutcomeCounts {
  return Object.fromEntries(API_KEY_OUTCOMES.map((outcome) => [outcome, 0])) as ApiKeyOutcomeCounts;
}

/** `auth.apiKeys.usage`: verifications of one key by outcome, bucket by bucket, oldest first. */
export const apiKeyUsage = z.object({
  keyId: z.string(),
  range: z.enum(['24h', '7d', '30d']),
  /** Width of each bucket; buckets start at multiples of it since the Unix epoch (UTC). */
  bucketSeconds: z.number().int(),
  /** Every bucket of the range, empty ones included, so a chart needs no gap filling. */
  buckets: z.array(z.object({ start: z.string().describe('ISO 8601 date-time'), counts: outcomeCounts })),
  totals: outcomeCounts,
  lastUsedAt: z.string().describe('ISO 8601 date-time').nullable(),
  /** Uses left; null is unlimited. */
  remaining: z.number().int().nullable(),
});
export type ApiKeyUsage = z.infer<typeof apiKeyUsage>;
