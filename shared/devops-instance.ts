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
