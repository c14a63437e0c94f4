import type { PlatformDatabase } from '../../../db/connect';
import {
  abandonNotification,
  type ClaimedNotification,
  claimDueNotifications,
  deleteFinishedNotificationsBefore,
  markNotificationDelivered,
  scheduleNotificationRetry,
} from '../../../db/repositories/alert-webhooks';
import { backoffDelay } from '../../../db/retry';
import type { Logger } from '../../base/logger';
import { type OutboundPolicy, OutboundRefusedError, outboundRequest } from '../../base/outbound/index';
import {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  signWebhook,
  TIMESTAMP_HEADER,
} from '../../base/outbound/webhook-signature';
import { openSecret, SealedSecretError } from '../../base/sealed-secret';

export interface AlertNotifierOptions {
  database: PlatformDatabase;
  /** Opens the webhooks' sealed secrets (the key-encryption key, or several during a rotation). */
  kek: Uint8Array | readonly Uint8Array[];
  logger: Logger;
  /** Bound on one delivery (ALERT_WEBHOOK_TIMEOUT_MS). */
  timeoutMs: number;
  /** Attempts before a notification is given up (ALERT_WEBHOOK_MAX_ATTEMPTS). */
  maxAttempts: number;
  /** Capped exponential backoff with full jitter between attempts. */
  backoff: { baseMs: number; maxMs: number };
  /** Where deliveries may go (purpose alert_webhook), checked again at every delivery. */
  outbound: OutboundPolicy;
  /** How often the outbox is polled for retries and other instances' notifications (default 2 s). */
  pollIntervalMs?: number;
  /** Notifications claimed, and delivered concurrently, per pass (default 10). */
  batchSize?: number;
  /** How long delivered and abandoned notifications are kept (default 7 days). */
  retentionMs?: number;
}

export interface DeliveryPass {
  delivered: number;
  retried: number;
  abandoned: number;
}

export interface NotifierStatus {
  running: boolean;
  lastPassAt: string | null;
  lastError: string | null;
  totals: DeliveryPass;
}

const PURGE_EVERY_MS = 3_600_000;
const MAX_BATCHES_PER_PASS = 100;

/**
 * Delivers the outbox (alert_notifications) to webhooks: an Alertmanager-shaped JSON body, signed
 * with the webhook's secret over a timestamp and the raw body. A 2xx is delivered; a network
 * failure, a timeout, 408, 429 or 5xx is retried after a capped, jittered, exponentially growing
 * delay, with the attempt count in the database so retries survive restarts; other 4xx answers
 * (the receiver will never take it, as Alertmanager judges them) and running out of attempts give
 * the notification up. Every instance runs one; SKIP LOCKED claims keep them from sending the same
 * attempt twice, and each webhook gets its notifications in the order they were queued (firing
 * before resolved). Nothing here throws to its callers: failures are recorded and logged.
 */
export class AlertNotifier {
  private readonly options: AlertNotifierOptions;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private pass: Promise<DeliveryPass> | null = null;
  private again = false;
  private lastPurgeAt = 0;
  private readonly state: NotifierStatus = {
    running: false,
    lastPassAt: null,
    lastError: null,
    totals: { delivered: 0, retried: 0, abandoned: 0 },
  };

  constructor(options: AlertNotifierOptions) {
    this.options = options;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.state.running = true;
    this.nudge();
  }

  /** Stops polling and waits for the pass under way (deliveries are bounded by the timeout). */
  async stop(): Promise<void> {
    this.running = false;
    this.state.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.pass;
  }

  /** Delivers what is due now, without waiting for the next poll (the evaluator calls it). */
  nudge(): void {
    if (!this.running) return;
    if (this.pass) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pass = this.deliverDue().finally(() => {
      this.pass = null;
      if (this.again) {
        this.again = false;
        this.nudge();
      } else this.schedule();
    });
  }

  status(): NotifierStatus {
    return { ...this.state, totals: { ...this.state.totals } };
  }

  /** One pass: claims due notifications in batches until none is left, and delivers them. Never throws. */
  async deliverDue(): Promise<DeliveryPass> {
    const pass: DeliveryPass = { delivered: 0, retried: 0, abandoned: 0 };
    const { database, timeoutMs, batchSize = 10 } = this.options;
    try {
      // Each claim takes the head of each webhook's queue; the next claim, the notifications behind
      // those delivered. Bounded, so one pass cannot run forever behind a busy outbox.
      for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
        // The claim outlives the request by a margin: a slow receiver is not sent a second copy.
        const claimed = await claimDueNotifications(database.db, {
          limit: batchSize,
          leaseMs: timeoutMs * 2 + 5_000,
        });
        if (claimed.length === 0) break;
        const outcomes = await Promise.all(claimed.map((notification) => this.deliver(notification)));
        for (const outcome of outcomes) pass[outcome]++;
        // Only retries: nothing moved up in any queue, and the retries wait for their delay.
        if (outcomes.every((outcome) => outcome === 'retried')) break;
      }
      await this.purge();
      this.state.lastError = null;
    } catch (error) {
      this.state.lastError = error instanceof Error ? error.message : String(error);
      this.options.logger.warn({ err: error }, 'alert notification pass failed');
    }
    this.state.lastPassAt = new Date().toISOString();
    for (const key of ['delivered', 'retried', 'abandoned'] as const) this.state.totals[key] += pass[key];
    return pass;
  }

  private async deliver(notification: ClaimedNotification): Promise<keyof DeliveryPass> {
    const { database, logger, maxAttempts, backoff } = this.options;
    const context = {
      notificationId: notification.id,
      webhookId: notification.webhook_id,
      attempt: notification.attempts,
    };
    const result = await this.attempt(notification);
    try {
      if (result.ok) {
        await markNotificationDelivered(database.db, notification.id);
        return 'delivered';
      }
      if (!result.retryable || notification.attempts >= maxAttempts) {
        await abandonNotification(database.db, notification.id, result.error);
        logger.warn({ ...context, error: result.error }, 'alert notification given up');
        return 'abandoned';
      }
      // Full jitter, but never sooner than the base: a receiver that just failed gets a moment.
      const delayMs = Math.max(backoff.baseMs, backoffDelay(notification.attempts - 1, backoff));
      await scheduleNotificationRetry(database.db, notification.id, { delayMs, error: result.error });
      logger.info(
        { ...context, error: result.error, retryInMs: delayMs },
        'alert notification failed; will retry',
      );
      return 'retried';
    } catch (error) {
      // The attempt is already counted and the claim expires: the row comes due again by itself.
      logger.warn({ ...context, err: error }, 'recording an alert notification attempt failed');
      return 'retried';
    }
  }

  private async attempt(
    notification: ClaimedNotification,
  ): Promise<{ ok: true } | { ok: false; retryable: boolean; error: string }> {
    let secret: string;
    try {
      secret = openSecret(notification.secret_sealed, this.options.kek, notification.webhook_id);
    } catch (error) {
      // A secret no key opens will not open by retrying.
      return { ok: false, retryable: false, error: messageOf(error) };
    }
    const body = JSON.stringify(notification.payload);
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const { status } = await outboundRequest(notification.url, 'alert_webhook', this.options.outbound, {
        method: 'POST',
        body,
        timeoutMs: this.options.timeoutMs,
        // The receiver's answer is never read: only its status counts.
        maxBytes: 64 * 1024,
        headers: {
          'user-agent': 'beauty-crafter-platform-alerts',
          'content-type': 'application/json',
          [DELIVERY_HEADER]: notification.id,
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
        },
      });
      if (status >= 200 && status < 300) return { ok: true };
      // A 3xx is not followed (its Location could be anywhere) and not retried: it will not change.
      const retryable = status === 408 || status === 429 || status >= 500 || status < 200;
      return { ok: false, retryable, error: `the receiver answered ${status}` };
    } catch (error) {
      // Our own short reason (OutboundRefusedError), never the receiver's or the driver's text. A
      // destination the policy refuses, or a bad URL, will not get better by retrying.
      const refused =
        error instanceof OutboundRefusedError &&
        (error.code === 'destination_not_allowed' || error.code === 'bad_url' || error.code === 'too_large');
      return { ok: false, retryable: !refused, error: messageOf(error) };
    }
  }

  private async purge(): Promise<void> {
    if (Date.now() - this.lastPurgeAt < PURGE_EVERY_MS) return;
    this.lastPurgeAt = Date.now();
    const retention = this.options.retentionMs ?? 7 * 86_400_000;
    await deleteFinishedNotificationsBefore(this.options.database.db, new Date(Date.now() - retention));
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.nudge();
    }, this.options.pollIntervalMs ?? 2_000);
    this.timer.unref?.();
  }
}

/**
 * What last_error may say: the outbound module's reasons and our own errors' messages, cut short.
 * Anything else (a driver's text) is not shown.
 */
function messageOf(error: unknown): string {
  const message =
    error instanceof OutboundRefusedError || error instanceof SealedSecretError
      ? error.message
      : 'the delivery failed';
  return message.slice(0, 300);
}
