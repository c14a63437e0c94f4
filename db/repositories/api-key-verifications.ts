import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';

/** Counts to add, as parallel arrays: one entry per key, minute and outcome (no two alike). */
export interface VerificationCounts {
  keyIds: string[];
  /** ISO 8601 starts of the minutes. */
  minutes: string[];
  outcomes: string[];
  counts: number[];
}

/**
 * Adds counts into their rows in one statement, creating the rows not there yet: every instance
 * adds into the same rows, so the sum is the whole installation's. The row lock of ON CONFLICT
 * orders concurrent flushes of one row. Counts of keys deleted since are dropped (a deletion
 * committing during the statement fails it on the foreign key; the next flush drops them).
 */
export async function addApiKeyVerifications(
  db: Kysely<Database>,
  counts: VerificationCounts,
): Promise<void> {
  if (counts.keyIds.length === 0) return;
  await sql`
    insert into api_key_verifications as v (key_id, minute, outcome, count)
    select u.key_id, u.minute, u.outcome, u.count
    from unnest(
      ${counts.keyIds}::uuid[], ${counts.minutes}::timestamptz[], ${counts.outcomes}::text[], ${counts.counts}::int4[]
    ) as u(key_id, minute, outcome, count)
    where exists (select 1 from api_keys k where k.id = u.key_id)
    on conflict (key_id, minute, outcome) do update set count = v.count + excluded.count
  `.execute(db);
}

/** Deletes the minutes before `before` (retention); returns how many rows went. */
export async function deleteApiKeyVerificationsBefore(db: Kysely<Database>, before: Date): Promise<number> {
  const result = await db.deleteFrom('api_key_verifications').where('minute', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** One key's verifications since `from`, summed per bucket of `bucketSeconds` and outcome. */
export async function sumApiKeyVerifications(
  db: Kysely<Database>,
  keyId: string,
  { from, bucketSeconds }: { from: Date; bucketSeconds: number },
): Promise<{ bucket: number; outcome: string; count: number }[]> {
  // Buckets start at multiples of bucketSeconds since the epoch, as the caller lays them out.
  const bucket = sql<number>`(floor(extract(epoch from minute) / ${bucketSeconds}::int4) * ${bucketSeconds}::int4)::float8`;
  return db
    .selectFrom('api_key_verifications')
    .select([bucket.as('bucket'), 'outcome', sql<number>`sum(count)::float8`.as('count')])
    .where('key_id', '=', keyId)
    .where('minute', '>=', from)
    .groupBy([sql`1`, 'outcome'])
    .execute();
}
