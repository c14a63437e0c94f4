import { z } from 'zod';
import { API_KEY_OUTCOMES, type ApiKeyOutcome } from './api-key-constants';

export {
  API_KEY_OUTCOMES,
  API_KEY_USAGE_RANGES,
  type ApiKeyOutcome,
  type ApiKeyUsageRange,
} from './api-key-constants';

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
