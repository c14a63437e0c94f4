import type { ColumnType } from 'kysely';

/** Rows live for the length of one self-test: written, read back and deleted. */
export interface SelfTestScratchTable {
  id: string;
  payload: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}
