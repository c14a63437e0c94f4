import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { AnnotationRow, NewAnnotation } from './annotations.table';

/**
 * Inserts an annotation. With an idempotency key, a second call with the same key in the same
 * organization inserts nothing and returns the first row, which is what makes a retried create
 * safe. Keys are per organization: another organization's key neither collides nor is returned.
 */
export async function insertAnnotation(db: Kysely<Database>, values: NewAnnotation): Promise<AnnotationRow> {
  const inserted = await db
    .insertInto('annotations')
    .values(values)
    .onConflict((oc) => oc.columns(['organization_id', 'idempotency_key']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return inserted;
  return db
    .selectFrom('annotations')
    .selectAll()
    .where('organization_id', '=', values.organization_id)
    .where('idempotency_key', '=', values.idempotency_key ?? null)
    .executeTakeFirstOrThrow();
}

/** One organization's annotations, newest first. */
export async function listAnnotations(
  db: Kysely<Database>,
  organizationId: string,
  { tag, limit, before }: { tag?: string; limit: number; before?: number },
): Promise<AnnotationRow[]> {
  let query = db
    .selectFrom('annotations')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('id', 'desc')
    .limit(limit);
  // The explicit cast: a bare array parameter leaves PostgreSQL unable to pick the @> operator.
  if (tag) query = query.where('tags', '@>', sql<string[]>`array[${tag}]::text[]`);
  if (before) query = query.where('id', '<', before);
  return query.execute();
}
