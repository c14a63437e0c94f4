import { z } from 'zod';

export const drainInput = z
  .object({
    /** true starts draining (readiness 503); false cancels a drain. */
    draining: z.boolean().default(true),
    /** How long to wait for requests in flight to finish before answering (0: answer at once). */
    waitSeconds: z.number().int().min(0).max(60).default(0),
  })
  .default({ draining: true, waitSeconds: 0 });

export const maintenanceSetInput = z.object({
  enabled: z.boolean(),
  message: z
    .string()
    .trim()
    .min(1)
    .max(500)
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL (U+0000) characters')
    .optional(),
  retryAfterSeconds: z.number().int().min(1).max(86_400).optional(),
});

// --- Outputs ---------------------------------------------------------------------------------------

/** What `devops.instance.drain` answers: the instance's state once the wait (if any) is over. */
export const drainResult = z.object({
  draining: z.boolean(),
  /** Other requests still in flight on this instance (this call not counted). */
  inFlight: z.number().int(),
  /** Draining, and nothing else in flight. */
  drained: z.boolean(),
});

/** Maintenance mode as every instance applies it (`devops.maintenance.get` and `.set`). */
export const maintenanceState = z.object({
  enabled: z.boolean(),
  /** Shown to callers whose mutations are refused; empty when off. */
  message: z.string(),
  /** Seconds a refused caller should wait (Retry-After); 0 when off. */
  retryAfterSeconds: z.number().int(),
  /** When it was switched on (ISO 8601); null when off. */
  since: z.string().nullable(),
  /** The user who switched it on; null when off. */
  by: z.string().nullable(),
});
