import type { CatalogueTable } from '../../../db/backup/catalogue';

/** Tables the platform keeps about its own archives, and Kysely's migration bookkeeping: never archived. */
export const UNARCHIVED_TABLES: ReadonlySet<string> = new Set([
  'backups',
  'backup_schedules',
  'kysely_migration',
  'kysely_migration_lock',
]);

/**
 * The order to load tables in so that every foreign key finds its referenced rows already there:
 * referenced tables first (Kahn's algorithm, ties by name for a stable order). `cyclic` lists
 * tables on a reference cycle or behind one, which no order satisfies; they come last, by name.
 */
export function loadOrder(tables: readonly Pick<CatalogueTable, 'name' | 'references'>[]): {
  order: string[];
  cyclic: string[];
} {
  const names = new Set(tables.map((t) => t.name));
  const pending = new Map(
    tables.map((t) => [t.name, new Set(t.references.filter((r) => r !== t.name && names.has(r)))]),
  );
  const order: string[] = [];
  for (;;) {
    const ready = [...pending].filter(([, needs]) => needs.size === 0).map(([name]) => name);
    if (ready.length === 0) break;
    ready.sort();
    for (const name of ready) {
      order.push(name);
      pending.delete(name);
      for (const needs of pending.values()) needs.delete(name);
    }
  }
  const cyclic = [...pending.keys()].sort();
  return { order: [...order, ...cyclic], cyclic };
}
