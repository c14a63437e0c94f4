import { type Kysely, sql } from 'kysely';
import type { Database } from '../database';
import type { AlertWebhookRow } from './alert-webhooks.table';

export interface NewWebhookValues {
  id: string;
  organization_id: string;
  name: string;
  url: string;
  secret_sealed: string;
}

export function insertWebhook(db: Kysely<Database>, values: NewWebhookValues): Promise<AlertWebhookRow> {
  return db.insertInto('alert_webhooks').values(values).returningAll().executeTakeFirstOrThrow();
}

export function listWebhooks(db: Kysely<Database>, organizationId: string): Promise<AlertWebhookRow[]> {
  return db
    .selectFrom('alert_webhooks')
    .selectAll()
    .where('organization_id', '=', organizationId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** Deletes an organization's webhook (and its undelivered notifications); false if it has none of that id. */
export async function deleteWebhook(
  db: Kysely<Database>,
  id: string,
  organizationId: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom('alert_webhooks')
    .where('id', '=', id)
    .where('organization_id', '=', organizationId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * The enabled webhooks told of a rule's alerts: its organization's, or every organization's for a
 * platform-wide rule (platform alerts are what every organization's operators are shown anyway).
 */
export function webhooksForRule(
  db: Kysely<Database>,
  organizationId: string | null,
): Promise<Pick<AlertWebhookRow, 'id' | 'name'>[]> {
  let query = db.selectFrom('alert_webhooks').select(['id', 'name']).where('enabled', '=', true);
  if (organizationId !== null) query = query.where('organization_id', '=', organizationId);
  return query.orderBy('id').execute();
}

export async function enqueueNotifications(
  db: Kysely<Database>,
  rows: { webhook_id: string; payload: Record<string, unknown> }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('alert_notifications')
    .values(rows.map((row) => ({ webhook_id: row.webhook_id, payload: JSON.stringify(row.payload) })))
    .execute();
}

/** A notification claimed for one delivery attempt, with where it goes. */
export interface ClaimedNotification {
  id: string;
  payload: Record<string, unknown>;
  /** Attempts so far, this one included. */
  attempts: number;
  webhook_id: string;
  url: string;
  secret_sealed: string;
}

/**
 * Claims up to `limit` due notifications for one attempt each: counts the attempt and pushes the
 * next one `leaseMs` away, in one committed statement, so the HTTP request runs without a
 * transaction open and an instance that dies mid-delivery leaves the row due again after the
 * lease. SKIP LOCKED lets several instances claim side by side without waiting or overlapping.
 *
 * Only the head of each webhook's queue is claimed (no older notification of the webhook is still
 * undelivered), so a receiver hears an alert resolve after it heard it fire, whichever instance
 * delivers, at the price of later notifications waiting behind one being retried.
 */
export async function claimDueNotifications(
  db: Kysely<Database>,
  { limit, leaseMs }: { limit: number; leaseMs: number },
): Promise<ClaimedNotification[]> {
  const due = db
    .selectFrom('alert_notifications as n')
    .innerJoin('alert_webhooks as w', 'w.id', 'n.webhook_id')
    .select('n.id')
    .where('n.delivered_at', 'is', null)
    .where('n.abandoned_at', 'is', null)
    .where('n.next_attempt_at', '<=', sql<Date>`now()`)
    .where('w.enabled', '=', true)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('alert_notifications as e')
            .select('e.id')
            .whereRef('e.webhook_id', '=', 'n.webhook_id')
            .whereRef('e.id', '<', 'n.id')
            .where('e.delivered_at', 'is', null)
            .where('e.abandoned_at', 'is', null),
        ),
      ),
    )
    .orderBy('n.next_attempt_at')
    .limit(limit)
    .forUpdate('n')
    .skipLocked();
  const claimed = await db
    .updateTable('alert_notifications')
    .set({
      attempts: sql<number>`attempts + 1`,
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${leaseMs / 1000}::float8)`,
    })
    .where('id', 'in', due)
    .returning(['id', 'payload', 'attempts', 'webhook_id'])
    .execute();
  if (claimed.length === 0) return [];
  const webhooks = await db
    .selectFrom('alert_webhooks')
    .select(['id', 'url', 'secret_sealed'])
    .where(
      'id',
      'in',
      claimed.map((row) => row.webhook_id),
    )
    .execute();
  const byId = new Map(webhooks.map((w) => [w.id, w]));
  return claimed.flatMap((row) => {
    const webhook = byId.get(row.webhook_id);
    return webhook ? [{ ...row, url: webhook.url, secret_sealed: webhook.secret_sealed }] : [];
  });
}

export async function markNotificationDelivered(db: Kysely<Database>, id: string): Promise<void> {
  await db
    .updateTable('alert_notifications')
    .set({ delivered_at: sql<Date>`now()`, last_error: null })
    .where('id', '=', id)
    .execute();
}

export async function scheduleNotificationRetry(
  db: Kysely<Database>,
  id: string,
  { delayMs, error }: { delayMs: number; error: string },
): Promise<void> {
  await db
    .updateTable('alert_notifications')
    .set({
      next_attempt_at: sql<Date>`now() + make_interval(secs => ${delayMs / 1000}::float8)`,
      last_error: error,
    })
    .where('id', '=', id)
    .execute();
}

export async function abandonNotification(db: Kysely<Database>, id: string, error: string): Promise<void> {
  await db
    .updateTable('alert_notifications')
    .set({ abandoned_at: sql<Date>`now()`, last_error: error })
    .where('id', '=', id)
    .execute();
}

/** Notifications still to deliver (due now or later). */
export async function countPendingNotifications(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('alert_notifications')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('delivered_at', 'is', null)
    .where('abandoned_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** Deletes delivered and abandoned notifications finished before `before`. */
export async function deleteFinishedNotificationsBefore(db: Kysely<Database>, before: Date): Promise<number> {
  const result = await db
    .deleteFrom('alert_notifications')
    .where((eb) =>
      eb.or([
        eb.and([eb('delivered_at', 'is not', null), eb('delivered_at', '<', before)]),
        eb.and([eb('abandoned_at', 'is not', null), eb('abandoned_at', '<', before)]),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
