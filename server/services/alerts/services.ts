import type { Registry } from 'prom-client';
import type { PlatformDatabase } from '../../../db/connect';
import { syncPlatformRules } from '../../../db/repositories/alert-rules';
import { type MetricsSource, registryMetricsSource } from '../../base/expressions/metrics-source';
import type { Logger } from '../../base/logger';
import type { OutboundPolicy } from '../../base/outbound/index';
import { DEFAULT_ALERT_RULES } from './default-rules';
import { AlertEvaluator } from './evaluator';
import { AlertNotifier } from './notifier';
import { AlertRuleService } from './rules';
import { AlertWebhookService } from './webhooks';

export interface AlertServicesOptions {
  database: PlatformDatabase;
  /** The platform's metrics registry (`deps.metrics.registry`), read by the rules. */
  registry: Registry;
  /** The key-encryption key that seals webhook secrets. */
  kek: Uint8Array;
  logger: Logger;
  /** ALERT_EVAL_INTERVAL_MS (default 15000). */
  evalIntervalMs: number;
  /** ALERT_DEFAULT_RULES: whether the platform-wide default rules are kept in the database. */
  defaultRules: boolean;
  /** ALERT_EXTERNAL_URL: where the platform is reached, for the notifications' links. */
  externalUrl?: string;
  /** ALERT_WEBHOOK_TIMEOUT_MS (default 5000). */
  webhookTimeoutMs: number;
  /** ALERT_WEBHOOK_MAX_ATTEMPTS (default 12). */
  webhookMaxAttempts: number;
  /** Where webhooks may point (purpose alert_webhook: ALERT_WEBHOOK_ALLOW_PRIVATE, OUTBOUND_ALLOW_ALERT_WEBHOOK). */
  outbound: OutboundPolicy;
  /** Between delivery attempts (default 1 s doubling up to 5 min, full jitter). */
  backoff?: { baseMs: number; maxMs: number };
  /** Another source of metrics than `registry` (tests). */
  source?: MetricsSource;
  /** How often the outbox is polled (default 2 s). */
  notifierPollMs?: number;
}

/** Alert rules, webhooks, the evaluator and the notifier, wired together. */
export interface AlertServices {
  rules: AlertRuleService;
  webhooks: AlertWebhookService;
  evaluator: AlertEvaluator;
  notifier: AlertNotifier;
  /** What the rules read: the registry's series. */
  source: MetricsSource;
  /** Brings the platform-wide rules in line with the defaults in code (or removes them). */
  syncDefaultRules(): Promise<{ inserted: number; updated: number; deleted: number }>;
}

export function buildAlertServices(options: AlertServicesOptions): AlertServices {
  const { database, kek, logger, outbound } = options;
  const externalUrl = options.externalUrl ?? '';
  const notifier = new AlertNotifier({
    database,
    kek,
    logger,
    outbound,
    timeoutMs: options.webhookTimeoutMs,
    maxAttempts: options.webhookMaxAttempts,
    backoff: options.backoff ?? { baseMs: 1_000, maxMs: 300_000 },
    pollIntervalMs: options.notifierPollMs,
  });
  const source = options.source ?? registryMetricsSource(options.registry);
  const evaluator = new AlertEvaluator({
    database,
    logger,
    source,
    intervalMs: options.evalIntervalMs,
    externalUrl,
    onNotificationsQueued: () => notifier.nudge(),
  });
  return {
    rules: new AlertRuleService({ database, externalUrl }),
    webhooks: new AlertWebhookService({ database, kek, outbound }),
    evaluator,
    notifier,
    source,
    syncDefaultRules: () =>
      database.transaction((trx) => syncPlatformRules(trx, options.defaultRules ? DEFAULT_ALERT_RULES : [])),
  };
}
