import type { SealedConfigSecret } from '../../../db/repositories/environments.table';
import type { ConfigDiff, ConfigValue, EnvironmentComparison } from '../../../shared/devops-environments';

/** A configuration as a revision stores it; secrets are compared by fingerprint, never opened. */
export interface StoredConfig {
  values: Record<string, ConfigValue>;
  secrets: Record<string, SealedConfigSecret>;
}

export const EMPTY_CONFIG: StoredConfig = Object.freeze({ values: {}, secrets: {} });

/** What changed from `from` to `to`. Values are compared by type and value: 1 and '1' differ. */
export function diffConfigs(from: StoredConfig, to: StoredConfig): ConfigDiff {
  const diff: ConfigDiff = {
    values: { added: {}, removed: {}, changed: {} },
    secrets: { added: [], removed: [], changed: [] },
  };
  for (const key of sortedKeys(from.values, to.values)) {
    const before = own(from.values, key);
    const after = own(to.values, key);
    if (before === undefined && after !== undefined) diff.values.added[key] = after;
    else if (before !== undefined && after === undefined) diff.values.removed[key] = before;
    else if (before !== undefined && after !== undefined && before !== after) {
      diff.values.changed[key] = { from: before, to: after };
    }
  }
  for (const key of sortedKeys(from.secrets, to.secrets)) {
    const before = own(from.secrets, key);
    const after = own(to.secrets, key);
    if (!before && after) diff.secrets.added.push(key);
    else if (before && !after) diff.secrets.removed.push(key);
    else if (before && after && before.fingerprint !== after.fingerprint) diff.secrets.changed.push(key);
  }
  return diff;
}

export function isEmptyDiff(diff: ConfigDiff): boolean {
  return (
    Object.keys(diff.values.added).length === 0 &&
    Object.keys(diff.values.removed).length === 0 &&
    Object.keys(diff.values.changed).length === 0 &&
    diff.secrets.added.length === 0 &&
    diff.secrets.removed.length === 0 &&
    diff.secrets.changed.length === 0
  );
}

/** Two environments' configurations side by side. */
export function compareConfigs(
  a: StoredConfig,
  b: StoredConfig,
): Pick<EnvironmentComparison, 'values' | 'secrets'> {
  const values: EnvironmentComparison['values'] = { onlyInA: {}, onlyInB: {}, different: {}, same: [] };
  for (const key of sortedKeys(a.values, b.values)) {
    const inA = own(a.values, key);
    const inB = own(b.values, key);
    if (inB === undefined && inA !== undefined) values.onlyInA[key] = inA;
    else if (inA === undefined && inB !== undefined) values.onlyInB[key] = inB;
    else if (inA !== undefined && inB !== undefined) {
      if (inA === inB) values.same.push(key);
      else values.different[key] = { a: inA, b: inB };
    }
  }
  const secrets: EnvironmentComparison['secrets'] = { onlyInA: [], onlyInB: [], different: [], same: [] };
  for (const key of sortedKeys(a.secrets, b.secrets)) {
    const inA = own(a.secrets, key);
    const inB = own(b.secrets, key);
    if (inA && !inB) secrets.onlyInA.push(key);
    else if (!inA && inB) secrets.onlyInB.push(key);
    else if (inA && inB) (inA.fingerprint === inB.fingerprint ? secrets.same : secrets.different).push(key);
  }
  return { values, secrets };
}

/** Keys of both records, sorted: jsonb keeps its own key order, and outputs should be stable. */
function sortedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
}

/** A record's own entry, never one inherited from Object.prototype. */
function own<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
