import type { Kysely } from 'kysely';
import type { Database } from '../../../db/database';
import type { AlertRuleRow } from '../../../db/repositories/alert-rules.table';
import { enqueueNotifications, webhooksForRule } from '../../../db/repositories/alert-webhooks';
import { alertmanagerMessage } from './alertmanager-payload';

export interface AlertEvent {
  rule: Pick<AlertRuleRow, 'organization_id' | 'name' | 'severity' | 'labels' | 'annotations'>;
  status: 'firing' | 'resolved';
  /** When the alert fired. */
  startsAt: Date;
  /** When it resolved; null while firing. */
  endsAt: Date | null;
}

/**
 * Queues one notification per webhook the rule's alerts go to. Called inside the transaction that
 * records the alert's change, so the change and its notifications commit (or vanish) together.
 * Returns how many were queued.
 */
export async function enqueueAlertEvent(
  trx: Kysely<Database>,
  event: AlertEvent,
  externalUrl: string,
): Promise<number> {
  const webhooks = await webhooksForRule(trx, event.rule.organization_id);
  await enqueueNotifications(
    trx,
    webhooks.map((webhook) => ({
      webhook_id: webhook.id,
      payload: alertmanagerMessage({ ...event, receiver: webhook.name, externalUrl }) as unknown as Record<
        string,
        unknown
      >,
    })),
  );
  return webhooks.length;
}
