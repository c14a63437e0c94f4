import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/**
 * Table types of the platform's database: the one place the server learns column types from.
 * Migrations in ./migrations create exactly these tables.
 */
export interface Database {
  annotations: AnnotationsTable;
  self_test_scratch: SelfTestScratchTable;
  rate_limits: RateLimitsTable;
}

export interface AnnotationsTable {
  id: Generated<number>;
  text: string;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  /** Client-chosen key that makes a retried create return the first row instead of a second one. */
  idempotency_key: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
export type AnnotationRow = Selectable<AnnotationsTable>;
export type NewAnnotation = Insertable<AnnotationsTable>;

/** Rows live for the length of one self-test: written, read back and deleted. */
export interface SelfTestScratchTable {
  id: string;
  payload: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

/** GCRA state, one row per rate-limited key; see server/services/rate-limit/postgres-store.ts. */
export interface RateLimitsTable {
  key: string;
  /** Theoretical arrival time, ms since the epoch; a row whose tat has passed is as good as absent. */
  tat: number;
  /** Whether the latest request on the key was admitted: how the upsert reports its decision. */
  last_allowed: boolean;
}
