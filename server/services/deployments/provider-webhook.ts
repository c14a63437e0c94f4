import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelay } from '../../../db/retry';
import {
  type OutboundPolicy,
  OutboundRefusedError,
  outboundRequest,
  parseOutboundUrl,
} from '../../base/outbound/index';
import { SIGNATURE_HEADER, signWebhook, TIMESTAMP_HEADER } from '../../base/outbound/webhook-signature';
import type { DeploymentProvider, DeploymentTarget } from './contracts';

/** The same on every attempt of one call (and on a repeat of a step after a restart): receivers deduplicate on it. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

export type WebhookAction = 'prepare' | 'setWeight' | 'scale' | 'promote' | 'rollback';

/** What the receiver gets, as JSON. */
export interface WebhookCall {
  action: WebhookAction;
  deploymentId: string;
  service: string;
  environment: string;
  version: string;
  stableVersion: string | null;
  strategy: DeploymentTarget['strategy'];
  weight?: number;
  updated?: number;
  total?: number;
}

export interface WebhookProviderOptions {
  url: string;
  /** Signs every call (HMAC-SHA256); the receiver holds the same secret. */
  secret: string;
  /** Bound on one attempt: DNS, connect, request and response. */
  timeoutMs: number;
  /** Attempts after the first one for a network failure, a timeout, 408, 429 or 5xx. */
  retries: number;
  /** Delay before the first retry, doubling up to maxMs, with full jitter (default 250 ms to 5 s). */
  backoff?: { baseMs: number; maxMs: number };
  /**
   * Where the URL may point (purpose deployment_webhook): the URL is configuration a person typed,
   * called by the server (SSRF), so internal addresses need DEPLOY_ALLOW_PRIVATE_NETWORKS or
   * OUTBOUND_ALLOW_DEPLOYMENT_WEBHOOK.
   */
  outbound: OutboundPolicy;
}

/**
 * Drives traffic and versions through an HTTP receiver the operator runs (a load balancer's
 * control API, a script, another platform): each provider call is one signed POST,
 * `{ action, deploymentId, service, environment, version, stableVersion, weight | updated/total }`.
 *
 * Signed like the alert webhooks (server/base/outbound/webhook-signature.ts): HMAC-SHA256 of
 * `<unix seconds>.<raw body>` in X-Platform-Signature, the seconds in X-Platform-Timestamp, so a
 * receiver can refuse forgeries and replays (`verifyWebhookSignature`). Answers 2xx: done.
 * A network failure, timeout, 408, 429 or 5xx is retried after a capped, jittered, exponentially
 * growing delay, with the same body and Idempotency-Key and a fresh signature; other answers
 * (the receiver refuses the call itself), a 3xx (never followed), a destination the outbound
 * policy refuses and the last failed attempt throw, saying only the status or our own reason.
 */
export class WebhookProvider implements DeploymentProvider {
  readonly kind = 'webhook';
  private readonly url: URL;

  constructor(private readonly options: WebhookProviderOptions) {
    if (!options.secret) throw new Error('a webhook provider needs a signing secret');
    this.url = parseOutboundUrl(options.url, 'deployment_webhook', options.outbound);
  }

  prepare(target: DeploymentTarget): Promise<void> {
    return this.call(target, 'prepare', {});
  }

  setWeight(target: DeploymentTarget, weight: number): Promise<void> {
    if (!Number.isFinite(weight) || weight < 0 || weight > 100) {
      return Promise.reject(new Error(`a weight is a percentage from 0 to 100, not ${weight}`));
    }
    return this.call(target, 'setWeight', { weight });
  }

  scale(target: DeploymentTarget, progress: { updated: number; total: number }): Promise<void> {
    return this.call(target, 'scale', { updated: progress.updated, total: progress.total });
  }

  promote(target: DeploymentTarget): Promise<void> {
    return this.call(target, 'promote', {});
  }

  rollback(target: DeploymentTarget): Promise<void> {
    return this.call(target, 'rollback', {});
  }

  private async call(
    target: DeploymentTarget,
    action: WebhookAction,
    extra: Pick<WebhookCall, 'weight' | 'updated' | 'total'>,
  ): Promise<void> {
    const payload: WebhookCall = {
      action,
      deploymentId: target.deploymentId,
      service: target.service,
      environment: target.environment,
      version: target.version,
      stableVersion: target.stableVersion,
      strategy: target.strategy,
      ...extra,
    };
    const body = JSON.stringify(payload);
    const idempotencyKey = idempotencyKeyOf(payload);
    const { retries, timeoutMs, backoff = { baseMs: 250, maxMs: 5_000 } } = this.options;
    let lastError = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await delay(Math.max(1, backoffDelay(attempt - 1, backoff)));
      const timestamp = Math.floor(Date.now() / 1000);
      let status: number;
      try {
        ({ status } = await outboundRequest(this.url, 'deployment_webhook', this.options.outbound, {
          method: 'POST',
          body,
          timeoutMs,
          // Only the status is read.
          maxBytes: 64 * 1024,
          headers: {
            'user-agent': 'beauty-crafter-platform-deployments',
            'content-type': 'application/json',
            [IDEMPOTENCY_KEY_HEADER]: idempotencyKey,
            [TIMESTAMP_HEADER]: String(timestamp),
            [SIGNATURE_HEADER]: signWebhook(this.options.secret, timestamp, body),
          },
        }));
      } catch (error) {
        if (!(error instanceof OutboundRefusedError)) throw error;
        lastError = error.message;
        if (error.code === 'destination_not_allowed' || error.code === 'bad_url') break;
        continue;
      }
      if (status >= 200 && status < 300) return;
      lastError = `the receiver answered ${status}`;
      const retryable = status === 408 || status === 429 || status >= 500 || status < 200;
      if (!retryable) break;
    }
    throw new Error(
      `webhook provider: ${action} for deployment ${target.deploymentId} failed at ${this.url.origin}: ${lastError}`,
    );
  }
}

/**
 * One key per (deployment, action, weight or step): a retry, or the engine repeating a step after a
 * restart, sends the same key; the next weight or step gets a new one.
 */
export function idempotencyKeyOf(
  call: Pick<WebhookCall, 'action' | 'deploymentId' | 'weight' | 'updated' | 'total'>,
): string {
  const step =
    call.action === 'setWeight'
      ? `:${call.weight}`
      : call.action === 'scale'
        ? `:${call.updated}/${call.total}`
        : '';
  return `${call.deploymentId}:${call.action}${step}`;
}
