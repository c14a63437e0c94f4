/**
 * Verifications of one API key in one minute with one outcome (shared/api-key-usage.ts
 * API_KEY_OUTCOMES); written by server/services/auth/api-key-usage.ts.
 */
export interface ApiKeyVerificationsTable {
  key_id: string;
  /** The minute's start. */
  minute: Date;
  outcome: string;
  count: number;
}
