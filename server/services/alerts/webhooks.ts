import { randomUUID } from 'node:crypto';
import type { PlatformDatabase } from '../../../db/connect';
import { deleteWebhook, insertWebhook, listWebhooks } from '../../../db/repositories/alert-webhooks';
import type { AlertWebhookRow } from '../../../db/repositories/alert-webhooks.table';
import type { AlertWebhook, CreatedAlertWebhook } from '../../../shared/alerts';
import { PlatformError } from '../../base/errors';
import { type OutboundPolicy, OutboundRefusedError, parseOutboundUrl } from '../../base/outbound/index';
import { generateWebhookSecret } from '../../base/outbound/webhook-signature';
import { sealSecret } from '../../base/sealed-secret';
import type { AlertActor } from './rules';

/**
 * An organization's webhook endpoints. The signing secret is generated here, returned once at
 * creation and stored sealed under the key-encryption key, bound to the webhook's id. A URL the
 * outbound policy refuses without DNS (an internal address, localhost) is refused here; one whose
 * name resolves to an internal address is refused at every delivery.
 */
export class AlertWebhookService {
  constructor(
    private readonly options: { database: PlatformDatabase; kek: Uint8Array; outbound: OutboundPolicy },
  ) {}

  async create(actor: AlertActor, input: { name: string; url: string }): Promise<CreatedAlertWebhook> {
    let url: URL;
    try {
      url = parseOutboundUrl(input.url, 'alert_webhook', this.options.outbound);
    } catch (error) {
      if (error instanceof OutboundRefusedError) throw new PlatformError('BAD_REQUEST', error.message);
      throw error;
    }
    const id = randomUUID();
    const secret = generateWebhookSecret();
    const row = await this.options.database.transaction((trx) =>
      insertWebhook(trx, {
        id,
        organization_id: actor.organizationId,
        name: input.name.trim(),
        url: url.toString(),
        secret_sealed: sealSecret(secret, this.options.kek, id),
      }),
    );
    return { ...toWebhook(row), secret };
  }

  async list(actor: AlertActor): Promise<AlertWebhook[]> {
    const rows = await this.options.database.read((db) => listWebhooks(db, actor.organizationId));
    return rows.map(toWebhook);
  }

  /** Deletes a webhook and the notifications still queued for it. */
  async delete(actor: AlertActor, id: string): Promise<{ id: string }> {
    const deleted = await this.options.database.transaction((trx) =>
      deleteWebhook(trx, id, actor.organizationId),
    );
    if (!deleted) throw new PlatformError('NOT_FOUND', 'no such webhook');
    return { id };
  }
}

function toWebhook(row: AlertWebhookRow): AlertWebhook {
  return {
    id: row.id,
    name: row.name,
    url: row.url,
    enabled: row.enabled,
    createdAt: row.created_at.toISOString(),
  };
}
