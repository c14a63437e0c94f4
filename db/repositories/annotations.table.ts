import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export interface AnnotationsTable {
  id: Generated<number>;
  organization_id: string;
  text: string;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  /** Client-chosen key, unique per organization, that makes a retried create return the first row. */
  idempotency_key: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export type AnnotationRow = Selectable<AnnotationsTable>;

export type NewAnnotation = Insertable<AnnotationsTable>;
