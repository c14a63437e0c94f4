/** GCRA state, one row per rate-limited key; see server/base/rate-limit/postgres-store.ts. */
export interface RateLimitsTable {
  key: string;
  /** Theoretical arrival time, ms since the epoch; a row whose tat has passed is as good as absent. */
  tat: number;
  /** Whether the latest request on the key was admitted: how the upsert reports its decision. */
  last_allowed: boolean;
}
