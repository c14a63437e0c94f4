import { z } from 'zod';
import { pageSchema } from './pagination';

/** How an alert's expression is compared with its threshold. */
export const ALERT_COMPARATORS = ['>', '>=', '<', '<=', '==', '!='] as const;
export const alertComparator = z.enum(ALERT_COMPARATORS);

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export const alertSeverity = z.enum(ALERT_SEVERITIES);

export const alertState = z.enum(['inactive', 'pending', 'firing']);
export type AlertStateName = z.infer<typeof alertState>;

// PostgreSQL text and jsonb cannot hold NUL (U+0000), and jsonb refuses a lone UTF-16 surrogate
// (JSON.stringify writes it as \udXXX): both refused here with a 400, not by the database with a 500.
const noNul = (value: string) => !value.includes('\u0000');
const NO_NUL = 'must not contain NUL (U+0000) characters';
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine(noNul, NO_NUL)
    .refine((value) => !LONE_SURROGATE.test(value), 'must be well-formed Unicode (no lone surrogates)');
const id = z.uuid({ message: 'must be an id (a UUID)' });

/** The alert's `alertname` label: Prometheus's label-value friendly identifier, so both systems can carry it. */
const alertName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,99}$/, 'must be 1-100 letters, digits and _, not starting with a digit');

const RESERVED_LABELS = new Set(['alertname', 'severity']);
const labels = z
  .record(
    z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'label names are letters, digits and _'),
    text(200),
  )
  .refine((record) => Object.keys(record).length <= 20, 'at most 20 labels')
  .refine(
    (record) => Object.keys(record).every((name) => !RESERVED_LABELS.has(name) && !name.startsWith('__')),
    'alertname, severity and names starting with __ are set by the platform',
  );
const annotations = z.strictObject({
  summary: text(500).optional(),
  description: text(2_000).optional(),
  runbook_url: z
    .url({ protocol: /^https?$/ })
    .max(2_000)
    .optional(),
});

/** Syntax is checked by the server's parser, which answers BAD_REQUEST with the position of a mistake. */
const expression = text(1_000).refine((value) => value.trim() !== '', 'must not be empty');
const threshold = z.number().refine(Number.isFinite, 'must be a finite number');
/** Up to a day: a condition that must hold longer than that is not an alert. */
const forSeconds = z.number().int().min(0).max(86_400);

export const alertRuleCreateInput = z.object({
  name: alertName,
  expression,
  comparator: alertComparator,
  threshold,
  forSeconds: forSeconds.default(0),
  severity: alertSeverity.default('warning'),
  labels: labels.default({}),
  annotations: annotations.default({}),
  enabled: z.boolean().default(true),
});
export type AlertRuleCreateInput = z.infer<typeof alertRuleCreateInput>;

export const alertRuleUpdateInput = z.object({
  id,
  name: alertName.optional(),
  expression: expression.optional(),
  comparator: alertComparator.optional(),
  threshold: threshold.optional(),
  forSeconds: forSeconds.optional(),
  severity: alertSeverity.optional(),
  labels: labels.optional(),
  annotations: annotations.optional(),
  enabled: z.boolean().optional(),
});
export type AlertRuleUpdateInput = z.infer<typeof alertRuleUpdateInput>;

export const alertRuleIdInput = z.object({ id });

export const alertHistoryInput = z
  .object({
    ruleId: id.optional(),
    limit: z.number().int().min(1).max(100).default(50),
    /** The `nextCursor` of the previous page. */
    cursor: z
      .string()
      .regex(/^\d{1,18}$/, 'must be a cursor from a previous page')
      .optional(),
  })
  .default({ limit: 50 });
export type AlertHistoryInput = z.infer<typeof alertHistoryInput>;

export const alertRule = z.object({
  id: z.string(),
  name: z.string(),
  /** platform: a default rule, the same for every organization and read-only; organization: yours. */
  scope: z.enum(['platform', 'organization']),
  expression: z.string(),
  comparator: alertComparator,
  threshold: z.number(),
  forSeconds: z.number(),
  severity: alertSeverity,
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()),
  enabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Null until the rule's first evaluation. */
  status: z
    .object({
      state: alertState,
      since: z.string(),
      /** The expression's last value; null when it had no data (or was not finite). */
      lastValue: z.number().nullable(),
      lastEvaluatedAt: z.string(),
      fingerprint: z.string(),
    })
    .nullable(),
});
export type AlertRule = z.infer<typeof alertRule>;

export const alertHistoryEntry = z.object({
  id: z.string(),
  ruleId: z.string().nullable(),
  ruleName: z.string(),
  from: alertState,
  to: z.enum(['inactive', 'pending', 'firing', 'resolved']),
  value: z.number().nullable(),
  at: z.string(),
});
export type AlertHistoryEntry = z.infer<typeof alertHistoryEntry>;

export const alertHistoryPage = pageSchema(alertHistoryEntry);
export type AlertHistoryPage = z.infer<typeof alertHistoryPage>;

export const alertWebhookCreateInput = z.object({
  /** The `receiver` of its notifications. */
  // Trimmed here, so what the schema accepts is exactly what is stored.
  name: text(100)
    .transform((value) => value.trim())
    .refine((value) => value !== '', 'must not be empty'),
  url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2_000),
});
export const alertWebhookIdInput = z.object({ id });

export const alertWebhook = z.object({
  id: z.string(),
  name: z.string(),
  url: z.string(),
  enabled: z.boolean(),
  createdAt: z.string(),
});
export type AlertWebhook = z.infer<typeof alertWebhook>;

/** A new webhook and its signing secret, shown this once. */
export const createdAlertWebhook = alertWebhook.extend({ secret: z.string() });
export type CreatedAlertWebhook = z.infer<typeof createdAlertWebhook>;

/** What deleting a rule or a webhook answers: the id deleted. */
export const deletedAlertResource = z.object({ id: z.string() });
