import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt, NullableTimestamp } from '../column-types';

export interface AlertWebhooksTable {
  id: string;
  organization_id: string;
  name: string;
  url: string;
  /** The HMAC secret sealed with AES-256-GCM; see server/base/sealed-secret.ts. */
  secret_sealed: string;
  enabled: Generated<boolean>;
  created_at: CreatedAt;
}

export type AlertWebhookRow = Selectable<AlertWebhooksTable>;

/** The notification outbox: one row per webhook and alert transition. */
export interface AlertNotificationsTable {
  id: Generated<string>;
  webhook_id: string;
  /** The Alertmanager webhook body (version 4). */
  payload: ColumnType<Record<string, unknown>, string, never>;
  attempts: Generated<number>;
  next_attempt_at: ColumnType<Date, Date | string | undefined, Date | string>;
  delivered_at: NullableTimestamp;
  abandoned_at: NullableTimestamp;
  last_error: string | null;
  created_at: CreatedAt;
}

export type AlertNotificationRow = Selectable<AlertNotificationsTable>;
