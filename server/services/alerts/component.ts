import type { PlatformDatabase } from '../../../db/connect';
import { listEnabledRules } from '../../../db/repositories/alert-rules';
import { countPendingNotifications } from '../../../db/repositories/alert-webhooks';
import { parseExpression } from '../../base/expressions/expression';
import { evaluateExpression } from '../../base/expressions/expression-eval';
import { SampleHistory } from '../../base/expressions/sample-history';
import type { Component } from '../../base/initializer';
import type { Logger } from '../../base/logger';
import { DEFAULT_ALERT_RULES } from './default-rules';
import type { AlertServices } from './services';

/** More undelivered notifications than this and the outbox is reported as backing up. */
const OUTBOX_WARN_AT = 100;

/**
 * Alert evaluation and delivery. Not critical: an instance that cannot evaluate alerts still
 * serves requests, and the Prometheus rule file covers the same alerts from outside.
 */
export function alertsComponent(
  alerts: AlertServices,
  { database, logger }: { database: PlatformDatabase; logger: Logger },
): Component {
  return {
    name: 'alerts',
    phase: 'monitoring',
    critical: false,
    async start() {
      const synced = await alerts.syncDefaultRules();
      if (synced.inserted + synced.updated + synced.deleted > 0)
        logger.info(synced, 'default alert rules synchronised');
      alerts.evaluator.start();
      alerts.notifier.start();
    },
    async stop() {
      await alerts.evaluator.stop();
      await alerts.notifier.stop();
    },
    async health() {
      const time = new Date().toISOString();
      const evaluator = alerts.evaluator.status();
      const pending = await countPendingNotifications(database.db);
      return {
        'alerts:evaluator': [
          {
            componentType: 'component',
            status: evaluator.lastOutcome === 'failed' ? 'warn' : 'pass',
            observedValue: evaluator.lastOutcome ?? 'not yet run',
            time,
            ...(evaluator.lastError ? { output: evaluator.lastError } : {}),
          },
        ],
        'alerts:outbox': [
          {
            componentType: 'component',
            status: pending > OUTBOX_WARN_AT ? 'warn' : 'pass',
            observedValue: pending,
            observedUnit: 'notifications',
            time,
          },
        ],
      };
    },
    selfTests: [
      {
        name: 'the default rules find their metrics',
        async run() {
          const history = new SampleHistory();
          history.push(Date.now(), await alerts.source.sample(), new Set(), 0);
          for (const rule of DEFAULT_ALERT_RULES) {
            // rate() needs two samples and is skipped (undefined); a gauge rule must find its series.
            const value = evaluateExpression(parseExpression(rule.expression), history);
            if (value !== undefined && !Number.isFinite(value)) {
              throw new Error(`${rule.name}: no series matches ${rule.expression}`);
            }
          }
        },
      },
      {
        name: 'the rule tables answer',
        async run() {
          await database.read((db) => listEnabledRules(db));
        },
      },
    ],
  };
}
