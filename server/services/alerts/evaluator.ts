import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import { type AlertRuleWithState, listEnabledRules } from '../../../db/repositories/alert-rules';
import {
  deleteAlertHistoryBefore,
  insertAlertHistory,
  leaseHeldByAnother,
  releaseEvaluatorLease,
  takeEvaluatorLease,
  transactionNow,
  tryLockEvaluationRound,
  upsertAlertState,
} from '../../../db/repositories/alert-states';
import { type Expr, parseExpression, rateRequirements } from '../../base/expressions/expression';
import { evaluateExpression } from '../../base/expressions/expression-eval';
import type { MetricsSource } from '../../base/expressions/metrics-source';
import { SampleHistory } from '../../base/expressions/sample-history';
import type { Logger } from '../../base/logger';
import { alertLabels, fingerprint } from './alertmanager-payload';
import { enqueueAlertEvent } from './outbox';
import { type AlertTransition, conditionHolds, countedStatus, nextStatus, notifies } from './state-machine';

export interface AlertEvaluatorOptions {
  database: PlatformDatabase;
  source: MetricsSource;
  logger: Logger;
  /** Between rounds (ALERT_EVAL_INTERVAL_MS). */
  intervalMs: number;
  /** Where the platform is reached, for the notifications' links (ALERT_EXTERNAL_URL). */
  externalUrl?: string;
  /** Told after a round queued notifications, so they go out at once rather than at the next poll. */
  onNotificationsQueued?: () => void;
  /** How long history is kept (default 90 days). */
  historyRetentionMs?: number;
  /** The clock rounds step alerts by; default the database's (`now()` of the round's transaction), so instances agree. */
  now?: () => Date;
}

/** What one round did. */
export interface EvaluationRound {
  /** `evaluated`: this instance led the round; `busy`: another was evaluating; `follower`: another leads. */
  outcome: 'evaluated' | 'busy' | 'follower';
  rules: number;
  transitions: { rule: string; transition: AlertTransition; value: number | null }[];
  notifications: number;
}

export interface EvaluatorStatus {
  running: boolean;
  leading: boolean;
  lastRoundAt: string | null;
  lastOutcome: EvaluationRound['outcome'] | 'failed' | null;
  lastError: string | null;
}

const HISTORY_PURGE_EVERY_MS = 3_600_000;

/**
 * Evaluates the enabled alert rules every interval and records what changed. Every instance samples
 * its metrics every interval (so its `rate()` history is warm should it take over), but only the
 * holder of the evaluator lease evaluates: inside one transaction that holds the round's advisory
 * lock it renews the lease, steps each rule's state, writes states and history, and queues the
 * notifications of alerts that fired or resolved — all committed together, or not at all.
 */
export class AlertEvaluator {
  readonly instanceId = randomUUID();
  private readonly options: AlertEvaluatorOptions;
  private readonly history = new SampleHistory();
  private readonly parsed = new Map<string, Expr | Error>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private inFlight: Promise<unknown> | null = null;
  private lastPurgeAt = 0;
  /**
   * Since when each rule has been pending by this evaluator's own rounds (see countedStatus):
   * written after the round's transaction commits, emptied whenever another instance leads.
   */
  private ownPending = new Map<string, Date>();
  private readonly state: EvaluatorStatus = {
    running: false,
    leading: false,
    lastRoundAt: null,
    lastOutcome: null,
    lastError: null,
  };

  constructor(options: AlertEvaluatorOptions) {
    this.options = options;
  }

  /** Starts the rounds: the first at once, then one every interval after the previous ends. */
  start(): void {
    if (this.state.running) return;
    this.state.running = true;
    this.schedule(0);
  }

  /** Stops the rounds, waits for one under way and hands the lease over. */
  async stop(): Promise<void> {
    this.state.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight?.catch(() => undefined);
    if (this.state.leading) {
      this.state.leading = false;
      await releaseEvaluatorLease(this.options.database.db, this.instanceId).catch(() => undefined);
    }
  }

  status(): EvaluatorStatus {
    return { ...this.state };
  }

  /** One round: sample the metrics, then evaluate if this instance leads. */
  async evaluateOnce(): Promise<EvaluationRound> {
    const { database } = this.options;
    const rules = await database.read((db) => listEnabledRules(db));
    const keep = new Set<string>();
    let longestWindowSeconds = 0;
    for (const rule of rules) {
      const expr = this.parse(rule.expression);
      if (expr instanceof Error) continue;
      const needs = rateRequirements(expr);
      for (const metric of needs.metrics) keep.add(metric);
      longestWindowSeconds = Math.max(longestWindowSeconds, needs.maxWindowSeconds);
    }
    const sample = await this.options.source.sample();
    // Two intervals beyond the longest window: a window always finds a sample at its start.
    this.history.push(Date.now(), sample, keep, longestWindowSeconds * 1100 + 2 * this.options.intervalMs);

    const { round, pending } = await database.transaction((trx) => this.evaluateIn(trx), {
      idempotent: true,
    });
    // Rounds another instance leads are not this evaluator's: counting starts afresh when it leads again.
    this.ownPending = round.outcome === 'follower' ? new Map() : pending;
    this.state.leading = round.outcome === 'evaluated' || (round.outcome === 'busy' && this.state.leading);
    if (round.notifications > 0) this.options.onNotificationsQueued?.();
    if (round.outcome === 'evaluated') await this.purgeHistory();
    return round;
  }

  // Re-running this after a commit whose answer was lost is harmless: it reads the states the
  // first run wrote and finds nothing more to change, hence `idempotent: true` above.
  private async evaluateIn(
    trx: Kysely<Database>,
  ): Promise<{ round: EvaluationRound; pending: Map<string, Date> }> {
    const round: EvaluationRound = { outcome: 'follower', rules: 0, transitions: [], notifications: 0 };
    const pending = new Map<string, Date>();
    // The lease first, without a lock: a follower that took the round's lock only to find it does
    // not lead would make the leader skip the round.
    if (await leaseHeldByAnother(trx, this.instanceId)) return { round, pending };
    if (!(await tryLockEvaluationRound(trx)))
      return { round: { ...round, outcome: 'busy' }, pending: this.ownPending };
    if (!(await takeEvaluatorLease(trx, this.instanceId, this.leaseMs()))) return { round, pending };
    round.outcome = 'evaluated';
    const now = this.options.now?.() ?? (await transactionNow(trx));
    for (const rule of await listEnabledRules(trx)) {
      const expr = this.parse(rule.expression);
      if (expr instanceof Error) continue;
      const value = evaluateExpression(expr, this.history);
      if (value === undefined) continue; // rate() has no earlier sample yet
      round.rules++;
      const stored = rule.state && rule.state_since ? { state: rule.state, since: rule.state_since } : null;
      const current = countedStatus(stored, this.ownPending.get(rule.id), now);
      const holds = conditionHolds(value, rule.comparator, rule.threshold);
      const { status, transition } = nextStatus(current, holds, rule.for_seconds, now);
      if (status.state === 'pending') pending.set(rule.id, status.since);
      const shown = Number.isFinite(value) ? value : null;
      await upsertAlertState(trx, {
        rule_id: rule.id,
        state: status.state,
        since: status.since,
        last_value: shown,
        last_evaluated_at: now,
        fingerprint: fingerprint(alertLabels(rule)),
      });
      if (!transition) continue;
      round.transitions.push({ rule: rule.name, transition, value: shown });
      await insertAlertHistory(trx, {
        rule_id: rule.id,
        organization_id: rule.organization_id,
        rule_name: rule.name,
        from_state: transition.from,
        to_state: transition.to,
        value: shown,
        at: now,
      });
      if (notifies(transition))
        round.notifications += await this.enqueue(trx, rule, transition, current, now);
    }
    return { round, pending };
  }

  private enqueue(
    trx: Kysely<Database>,
    rule: AlertRuleWithState,
    transition: AlertTransition,
    previous: { since: Date } | null,
    now: Date,
  ): Promise<number> {
    const firing = transition.to === 'firing';
    return enqueueAlertEvent(
      trx,
      {
        rule,
        status: firing ? 'firing' : 'resolved',
        startsAt: firing ? now : (previous?.since ?? now),
        endsAt: firing ? null : now,
      },
      this.options.externalUrl ?? '',
    );
  }

  /** Parsed once per distinct text; a stored rule the parser now refuses is skipped and logged once. */
  private parse(expression: string): Expr | Error {
    let expr = this.parsed.get(expression);
    if (!expr) {
      try {
        expr = parseExpression(expression);
      } catch (error) {
        expr = error instanceof Error ? error : new Error(String(error));
        this.options.logger.warn(
          { err: expr },
          'an alert rule has an expression the evaluator cannot parse; skipped',
        );
      }
      if (this.parsed.size > 10_000) this.parsed.clear();
      this.parsed.set(expression, expr);
    }
    return expr;
  }

  /** Three intervals: a leader that misses two rounds hands over, one slow round does not. */
  private leaseMs(): number {
    return Math.max(3 * this.options.intervalMs, 1_000);
  }

  private async purgeHistory(): Promise<void> {
    if (Date.now() - this.lastPurgeAt < HISTORY_PURGE_EVERY_MS) return;
    this.lastPurgeAt = Date.now();
    const retention = this.options.historyRetentionMs ?? 90 * 86_400_000;
    await deleteAlertHistoryBefore(this.options.database.db, new Date(Date.now() - retention)).catch(
      (error) => this.options.logger.warn({ err: error }, 'purging old alert history failed'),
    );
  }

  private schedule(delayMs: number): void {
    if (!this.state.running) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const round = this.evaluateOnce().then(
        (result) => {
          this.state.lastOutcome = result.outcome;
          this.state.lastError = null;
        },
        (error) => {
          this.state.lastOutcome = 'failed';
          this.state.lastError = error instanceof Error ? error.message : String(error);
          this.options.logger.warn({ err: error }, 'alert evaluation round failed');
        },
      );
      this.inFlight = round.finally(() => {
        this.state.lastRoundAt = new Date().toISOString();
        this.inFlight = null;
        this.schedule(this.options.intervalMs);
      });
    }, delayMs);
    this.timer.unref?.();
  }
}
