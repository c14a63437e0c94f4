import { sql } from 'kysely';
import { expect } from 'vitest';
import type { TestApp } from './app';

/**
 * The passwords, tokens and keys a test file used, and the final check that none of them is kept
 * in clear: not in any table, not in any log line.
 */
export class SecretScan {
  private readonly secrets = new Set<string>();

  /** Notes values to look for later; empty ones are ignored. */
  remember(...values: (string | null | undefined)[]): void {
    for (const value of values) if (value) this.secrets.add(value);
  }

  get size(): number {
    return this.secrets.size;
  }

  /** Fails, naming each found secret by its first characters only, if `text` holds any. */
  expectNoneIn(text: string, where: string): void {
    const found = [...this.secrets].filter((secret) => text.includes(secret));
    expect(
      found.map((secret) => `${secret.slice(0, 12)}…`),
      where,
    ).toEqual([]);
  }
}

/**
 * Every row of every table of the public schema, as JSON text, after checking that `expected`
 * tables are among them (so that a renamed table cannot make the scan vacuous).
 */
export async function dumpTables(app: TestApp, expected: string[]): Promise<string> {
  const db = app.deps.database.db;
  const tables = await db
    .selectFrom('information_schema.tables' as never)
    .select(sql<string>`table_name`.as('name'))
    .where(sql<boolean>`table_schema = 'public'`)
    .execute();
  expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(expected));
  const dumps: string[] = [];
  for (const { name } of tables) {
    const { rows } = await sql<{ dump: string | null }>`
      select coalesce(json_agg(dumped)::text, '[]') as dump from ${sql.table(name)} as dumped
    `.execute(db);
    dumps.push(`${name}: ${rows[0]?.dump}`);
  }
  return dumps.join('\n');
}
