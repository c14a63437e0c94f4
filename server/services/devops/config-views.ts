import type { ConfigRevisionWithAuthor } from '../../../db/repositories/environments';
import type { EnvironmentRow, SealedConfigSecret } from '../../../db/repositories/environments.table';
import {
  type ConfigAuthor,
  type ConfigRevisionView,
  type ConfigValues,
  type EnvironmentSummary,
  REDACTED,
} from '../../../shared/devops-environments';
import type { StoredConfig } from './config-diff';

/** Rows as callers see them: dates as ISO strings, keys sorted, secrets redacted to fingerprints. */

export function environmentFields(row: EnvironmentRow): Omit<EnvironmentSummary, 'revision'> {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    protected: row.protected,
    createdAt: row.created_at.toISOString(),
  };
}

export function storedConfig(row: {
  values: ConfigValues;
  secrets: Record<string, SealedConfigSecret>;
}): StoredConfig {
  return { values: row.values, secrets: row.secrets };
}

export function authorOf(row: ConfigRevisionWithAuthor): ConfigAuthor {
  return { userId: row.author_user_id, apiKeyId: row.author_api_key_id, email: row.author_email };
}

export function revisionView(row: ConfigRevisionWithAuthor): ConfigRevisionView {
  const secrets: ConfigRevisionView['secrets'] = {};
  for (const key of Object.keys(row.secrets).sort()) {
    secrets[key] = { value: REDACTED, fingerprint: row.secrets[key]!.fingerprint };
  }
  return {
    revision: row.revision,
    values: sortedRecord(row.values),
    secrets,
    author: authorOf(row),
    message: row.message,
    createdAt: row.created_at.toISOString(),
    rolledBackFrom: row.rolled_back_from,
  };
}

/** jsonb orders keys its own way (shortest first); callers get them alphabetically. */
export function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
