import { z } from 'zod';
import type { Page } from './pagination';

/**
 * Environments and their configuration, as clients send and receive them (`devops.environments.*`).
 * A configuration is a flat record of typed entries, like a process's environment variables:
 * plain values the platform stores and shows as they are, and secrets it stores sealed and only
 * ever shows redacted with a fingerprint.
 */

/** Environment-variable style: an upper-case letter, then upper-case letters, digits and _. */
export const CONFIG_KEY_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Entries per configuration, values and secrets counted together. */
export const MAX_CONFIG_KEYS = 200;
/** Bytes (UTF-8) per string, value or secret. */
export const MAX_CONFIG_STRING_BYTES = 4096;
/** What a secret is shown as, wherever it appears. */
export const REDACTED = '[redacted]';

// PostgreSQL jsonb cannot hold NUL (U+0000) nor a lone UTF-16 surrogate: both refused here with a
// 400, not by the database with a 500.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextEncoder();
const configString = z
  .string()
  .refine(
    (value) => utf8.encode(value).length <= MAX_CONFIG_STRING_BYTES,
    `must be at most ${MAX_CONFIG_STRING_BYTES} bytes`,
  )
  .refine((value) => !value.includes('\u0000'), 'must not contain NUL (U+0000) characters')
  .refine((value) => !LONE_SURROGATE.test(value), 'must be well-formed Unicode (no lone surrogates)');

export const configKey = z
  .string()
  .regex(CONFIG_KEY_PATTERN, 'must be 1-64 characters: an upper-case letter, then A-Z, 0-9 and _');
export const configValue = z.union([
  configString,
  z.number().refine(Number.isFinite, 'must be finite'),
  z.boolean(),
]);
export type ConfigValue = z.infer<typeof configValue>;

/**
 * A record keyed by configuration keys. Keys are checked here rather than by a key schema: zod
 * reports a bad record key only as "Invalid key in record", and the caller needs to know which.
 */
function configRecord<T extends z.ZodType>(entry: T) {
  return z.record(z.string(), entry).superRefine((record, ctx) => {
    const keys = Object.keys(record);
    if (keys.length > MAX_CONFIG_KEYS) {
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_CONFIG_KEYS} keys (${keys.length} given)` });
      return;
    }
    for (const key of keys) {
      if (CONFIG_KEY_PATTERN.test(key)) continue;
      // No path below the record: the message names the key (flattened issues keep one segment).
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(key.slice(0, 64))}: ${BAD_KEY}` });
    }
  });
}
const BAD_KEY = 'a key must be 1-64 characters: an upper-case letter, then A-Z, 0-9 and _';

/** The plain (non-secret) entries of a configuration. */
export const configValues = configRecord(configValue);
export type ConfigValues = z.infer<typeof configValues>;

/** Changes to secrets: a string sets one, null deletes it, an absent key leaves it as it is. */
export const configSecretChanges = configRecord(configString.nullable());
export type ConfigSecretChanges = z.infer<typeof configSecretChanges>;

/** An environment's name: it appears in URLs, audit details and deployment targets. */
export const environmentName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be 1-63 characters: a lower-case letter, then a-z, 0-9 and -');

const message = z
  .string()
  .trim()
  .max(500)
  .refine((value) => !value.includes('\u0000'), 'must not contain NUL (U+0000) characters')
  .refine((value) => !LONE_SURROGATE.test(value), 'must be well-formed Unicode (no lone surrogates)');
const revision = z.number().int().min(1).max(2_147_483_647);

export const environmentNameInput = z.object({ name: environmentName });

export const environmentCreateInput = z.object({
  name: environmentName,
  description: message.default(''),
  /** Stricter configuration rules, and every change must name the revision it replaces. */
  protected: z.boolean().default(false),
});
export type EnvironmentCreateInput = z.input<typeof environmentCreateInput>;

export const configSetInput = z.object({
  name: environmentName,
  /** The complete set of plain values: keys left out are removed. Absent: the values stay as they are. */
  values: configValues.optional(),
  /** Secrets to set or delete; the others stay as they are (a caller never sees them to send back). */
  secrets: configSecretChanges.default({}),
  message: message.default(''),
  /** The revision this change was made against: another one being current answers CONFLICT. */
  expectedRevision: revision.optional(),
});
export type ConfigSetInput = z.input<typeof configSetInput>;

export const configHistoryInput = z.object({
  name: environmentName,
  limit: z.number().int().min(1).max(100).default(20),
  /** The `nextCursor` of the previous page: revisions older than the one it names. */
  cursor: z
    .string()
    .regex(/^[1-9]\d{0,8}$/, 'must be the nextCursor of a previous page')
    .optional(),
});
export type ConfigHistoryInput = z.input<typeof configHistoryInput>;

export const configDiffInput = z.object({ name: environmentName, from: revision, to: revision });

export const configRollbackInput = z.object({
  name: environmentName,
  /** The revision whose values and secrets become current again, as a new revision. */
  toRevision: revision,
  message: message.default(''),
  expectedRevision: revision.optional(),
});
export type ConfigRollbackInput = z.input<typeof configRollbackInput>;

export const environmentCompareInput = z.object({ a: environmentName, b: environmentName });

/** A secret as it is shown: never its value; the fingerprint changes when the value does. */
export interface RedactedSecret {
  value: typeof REDACTED;
  fingerprint: string;
}

export interface ConfigAuthor {
  userId: string | null;
  apiKeyId: string | null;
  /** The user's email, when the user still exists. */
  email: string | null;
}

/** What changed from one revision to another. Secrets by name only. */
export interface ConfigDiff {
  values: {
    added: Record<string, ConfigValue>;
    removed: Record<string, ConfigValue>;
    changed: Record<string, { from: ConfigValue; to: ConfigValue }>;
  };
  secrets: { added: string[]; removed: string[]; changed: string[] };
}

export interface ConfigRevisionView {
  revision: number;
  values: ConfigValues;
  secrets: Record<string, RedactedSecret>;
  author: ConfigAuthor;
  message: string;
  createdAt: string;
  /** Set on a rollback: the revision whose content this one restored. */
  rolledBackFrom: number | null;
}

export interface EnvironmentSummary {
  id: string;
  name: string;
  description: string;
  protected: boolean;
  createdAt: string;
  /** The current revision's number. */
  revision: number;
}

export interface EnvironmentView extends Omit<EnvironmentSummary, 'revision'> {
  current: ConfigRevisionView;
}

export interface ConfigChange {
  environment: string;
  /** The revision now current: a new one, or the same one when the change changed nothing. */
  revision: number;
  /** False when the change changed nothing: no revision is made for it. */
  created: boolean;
  rolledBackFrom: number | null;
  diff: ConfigDiff;
}

export interface ConfigHistoryEntry {
  revision: number;
  author: ConfigAuthor;
  message: string;
  createdAt: string;
  rolledBackFrom: number | null;
  /** From the revision before it (revision 1: from an empty configuration). */
  diff: ConfigDiff;
}

export type ConfigHistoryPage = Page<ConfigHistoryEntry>;

export interface EnvironmentComparison {
  a: { name: string; revision: number };
  b: { name: string; revision: number };
  values: {
    onlyInA: Record<string, ConfigValue>;
    onlyInB: Record<string, ConfigValue>;
    different: Record<string, { a: ConfigValue; b: ConfigValue }>;
    same: string[];
  };
  /** Secrets compared by fingerprint, never by value. */
  secrets: { onlyInA: string[]; onlyInB: string[]; different: string[]; same: string[] };
}

// --- Output schemas (the REST reference; exactly the interfaces above) -----------------------------

const dateTime = z.string().describe('ISO 8601 date-time');
/** A stored value as it is shown back: the checks of `configValue` were made when it was set. */
const shownValue = z.union([z.string(), z.number(), z.boolean()]);
const shownValues = z.record(z.string(), shownValue);

export const redactedSecret = z.object({
  value: z.literal(REDACTED),
  /** Changes when the value does; equal fingerprints mean equal values. */
  fingerprint: z.string(),
});

export const configAuthor = z.object({
  userId: z.string().nullable(),
  apiKeyId: z.string().nullable(),
  /** The user's email, when the user still exists. */
  email: z.string().nullable(),
});

export const configDiff = z.object({
  values: z.object({
    added: shownValues,
    removed: shownValues,
    changed: z.record(z.string(), z.object({ from: shownValue, to: shownValue })),
  }),
  /** Secrets by name only. */
  secrets: z.object({
    added: z.array(z.string()),
    removed: z.array(z.string()),
    changed: z.array(z.string()),
  }),
});

export const configRevisionView = z.object({
  revision: z.number().int(),
  values: shownValues,
  secrets: z.record(z.string(), redactedSecret),
  author: configAuthor,
  message: z.string(),
  createdAt: dateTime,
  /** Set on a rollback: the revision whose content this one restored. */
  rolledBackFrom: z.number().int().nullable(),
});

const environmentFields = {
  id: z.string(),
  name: z.string(),
  description: z.string(),
  protected: z.boolean(),
  createdAt: dateTime,
};

export const environmentSummary = z.object({
  ...environmentFields,
  /** The current revision's number. */
  revision: z.number().int(),
});

export const environmentView = z.object({ ...environmentFields, current: configRevisionView });

export const configChange = z.object({
  environment: z.string(),
  /** The revision now current: a new one, or the same one when the change changed nothing. */
  revision: z.number().int(),
  /** False when the change changed nothing: no revision is made for it. */
  created: z.boolean(),
  rolledBackFrom: z.number().int().nullable(),
  diff: configDiff,
});

export const configHistoryPage = z.object({
  items: z.array(
    z.object({
      revision: z.number().int(),
      author: configAuthor,
      message: z.string(),
      createdAt: dateTime,
      rolledBackFrom: z.number().int().nullable(),
      /** From the revision before it (revision 1: from an empty configuration). */
      diff: configDiff,
    }),
  ),
  nextCursor: z.string().nullable(),
});

/** What `devops.environments.diff` answers. */
export const configRevisionDiff = z.object({
  environment: z.string(),
  from: z.number().int(),
  to: z.number().int(),
  diff: configDiff,
});

export const environmentComparison = z.object({
  a: z.object({ name: z.string(), revision: z.number().int() }),
  b: z.object({ name: z.string(), revision: z.number().int() }),
  values: z.object({
    onlyInA: shownValues,
    onlyInB: shownValues,
    different: z.record(z.string(), z.object({ a: shownValue, b: shownValue })),
    same: z.array(z.string()),
  }),
  /** Secrets compared by fingerprint, never by value. */
  secrets: z.object({
    onlyInA: z.array(z.string()),
    onlyInB: z.array(z.string()),
    different: z.array(z.string()),
    same: z.array(z.string()),
  }),
});
