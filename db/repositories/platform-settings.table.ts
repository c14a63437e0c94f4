import type { ColumnType } from 'kysely';

/** Platform-wide switches every instance agrees on (maintenance mode), one row per name. */
export interface PlatformSettingsTable {
  name: string;
  value: ColumnType<Record<string, unknown>, string, string>;
  updated_by: string | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}
