import type { Kysely } from 'kysely';
import type { PlatformDatabase } from '../../../db/connect';
import type { Database } from '../../../db/database';
import {
  type AlertRuleDefinition,
  type AlertRuleWithState,
  deleteRule,
  findVisibleRule,
  insertRule,
  listVisibleRules,
  updateRule,
} from '../../../db/repositories/alert-rules';
import {
  insertAlertHistory,
  listAlertHistory,
  transactionNow,
  upsertAlertState,
} from '../../../db/repositories/alert-states';
import type { AlertHistoryRow } from '../../../db/repositories/alert-states.table';
import { sqlState } from '../../../db/retry';
import type {
  AlertHistoryInput,
  AlertHistoryPage,
  AlertRule,
  AlertRuleCreateInput,
  AlertRuleUpdateInput,
} from '../../../shared/alerts';
import { pageOf } from '../../../shared/pagination';
import { PlatformError } from '../../base/errors';
import { ExpressionError, parseExpression } from '../../base/expressions/expression';
import { enqueueAlertEvent } from './outbox';

/** Who manages rules: every query is confined to their organization. */
export interface AlertActor {
  organizationId: string;
}

/**
 * Alert rules as operators see and change them: the platform-wide rules (read-only: they are the
 * platform's defaults, kept in code) and their organization's own. A rule of another organization
 * is NOT_FOUND, like one that does not exist.
 */
export class AlertRuleService {
  constructor(private readonly options: { database: PlatformDatabase; externalUrl: string }) {}

  async list(actor: AlertActor): Promise<AlertRule[]> {
    const rows = await this.options.database.read((db) => listVisibleRules(db, actor.organizationId));
    return rows.map(toAlertRule);
  }

  async history(actor: AlertActor, input: AlertHistoryInput): Promise<AlertHistoryPage> {
    const rows = await this.options.database.read((db) =>
      listAlertHistory(db, {
        organizationId: actor.organizationId,
        ruleId: input.ruleId,
        limit: input.limit + 1,
        before: input.cursor,
      }),
    );
    return pageOf(rows, input.limit, toHistoryEntry, (row) => String(row.id));
  }

  async create(actor: AlertActor, input: AlertRuleCreateInput): Promise<AlertRule> {
    checkExpression(input.expression);
    const definition: AlertRuleDefinition = {
      name: input.name,
      expression: input.expression,
      comparator: input.comparator,
      threshold: input.threshold,
      for_seconds: input.forSeconds,
      severity: input.severity,
      labels: input.labels,
      annotations: definedOnly(input.annotations),
      enabled: input.enabled,
    };
    const { database } = this.options;
    const row = await database
      .transaction((trx) => insertRule(trx, actor.organizationId, definition))
      .catch(conflictOnDuplicateName);
    return toAlertRule({
      ...row,
      state: null,
      state_since: null,
      last_value: null,
      last_evaluated_at: null,
      fingerprint: null,
    });
  }

  async update(actor: AlertActor, input: AlertRuleUpdateInput): Promise<AlertRule> {
    if (input.expression !== undefined) checkExpression(input.expression);
    const { id, forSeconds, annotations, ...rest } = input;
    const changes: Partial<AlertRuleDefinition> = {
      ...rest,
      ...(forSeconds !== undefined ? { for_seconds: forSeconds } : {}),
      ...(annotations !== undefined ? { annotations: definedOnly(annotations) } : {}),
    };
    const { database } = this.options;
    await database
      .transaction(async (trx) => {
        const rule = await this.ownRule(trx, actor, id);
        await updateRule(trx, id, changes);
        // A disabled rule is no longer evaluated: its alert ends now rather than hanging firing.
        // A renamed or relabelled one is another alert to receivers: the old one ends, and the
        // new one fires after `for` like any other.
        if (changes.enabled === false || identityChanges(rule, changes)) await this.endAlert(trx, rule);
      })
      .catch(conflictOnDuplicateName);
    const updated = await database.read((db) => findVisibleRule(db, id, actor.organizationId));
    if (!updated) throw new PlatformError('NOT_FOUND', 'no such alert rule');
    return toAlertRule(updated);
  }

  /** Deletes one of the organization's rules; a firing alert is resolved first, so receivers hear it end. */
  async delete(actor: AlertActor, id: string): Promise<{ id: string }> {
    await this.options.database.transaction(async (trx) => {
      const rule = await this.ownRule(trx, actor, id);
      await this.endAlert(trx, rule);
      await deleteRule(trx, id);
    });
    return { id };
  }

  private async ownRule(trx: Kysely<Database>, actor: AlertActor, id: string): Promise<AlertRuleWithState> {
    const rule = await findVisibleRule(trx, id, actor.organizationId, { forUpdate: true });
    if (!rule) throw new PlatformError('NOT_FOUND', 'no such alert rule');
    if (rule.organization_id === null) {
      throw new PlatformError(
        'FORBIDDEN',
        'platform-wide rules are the platform defaults (see ALERT_DEFAULT_RULES); create a rule of your own instead',
      );
    }
    return rule;
  }

  /** Takes a pending or firing alert back to inactive, recording it and, if it was firing, notifying. */
  private async endAlert(trx: Kysely<Database>, rule: AlertRuleWithState): Promise<void> {
    if (rule.state !== 'pending' && rule.state !== 'firing') return;
    const now = await transactionNow(trx);
    const to = rule.state === 'firing' ? 'resolved' : 'inactive';
    await insertAlertHistory(trx, {
      rule_id: rule.id,
      organization_id: rule.organization_id,
      rule_name: rule.name,
      from_state: rule.state,
      to_state: to,
      value: rule.last_value,
      at: now,
    });
    await upsertAlertState(trx, {
      rule_id: rule.id,
      state: 'inactive',
      since: now,
      last_value: rule.last_value,
      last_evaluated_at: rule.last_evaluated_at ?? now,
      fingerprint: rule.fingerprint ?? '',
    });
    if (to === 'resolved') {
      await enqueueAlertEvent(
        trx,
        { rule, status: 'resolved', startsAt: rule.state_since ?? now, endsAt: now },
        this.options.externalUrl,
      );
    }
  }
}

/** Refuses an expression the evaluator could not run, saying where the mistake is. */
function checkExpression(expression: string): void {
  try {
    parseExpression(expression);
  } catch (error) {
    if (error instanceof ExpressionError)
      throw new PlatformError('BAD_REQUEST', `expression ${error.message}`);
    throw error;
  }
}

/** Whether the changes alter the labels the rule's alerts carry (name, severity, labels). */
function identityChanges(rule: AlertRuleWithState, changes: Partial<AlertRuleDefinition>): boolean {
  const { name = rule.name, severity = rule.severity, labels = rule.labels } = changes;
  const keys = Object.keys(labels);
  return (
    name !== rule.name ||
    severity !== rule.severity ||
    keys.length !== Object.keys(rule.labels).length ||
    keys.some((key) => labels[key] !== rule.labels[key])
  );
}

function conflictOnDuplicateName(error: unknown): never {
  if (sqlState(error) === '23505') throw new PlatformError('CONFLICT', 'an alert rule of that name exists');
  throw error;
}

function definedOnly(record: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Record<
    string,
    string
  >;
}

function toAlertRule(row: AlertRuleWithState): AlertRule {
  return {
    id: row.id,
    name: row.name,
    scope: row.organization_id === null ? 'platform' : 'organization',
    expression: row.expression,
    comparator: row.comparator,
    threshold: row.threshold,
    forSeconds: row.for_seconds,
    severity: row.severity,
    labels: row.labels,
    annotations: row.annotations,
    enabled: row.enabled,
    createdAt: row.created_at.toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    status:
      row.state && row.state_since && row.last_evaluated_at
        ? {
            state: row.state,
            since: new Date(row.state_since).toISOString(),
            lastValue: row.last_value,
            lastEvaluatedAt: new Date(row.last_evaluated_at).toISOString(),
            fingerprint: row.fingerprint ?? '',
          }
        : null,
  };
}

function toHistoryEntry(row: AlertHistoryRow): AlertHistoryPage['items'][number] {
  return {
    id: String(row.id),
    ruleId: row.rule_id,
    ruleName: row.rule_name,
    from: row.from_state,
    to: row.to_state,
    value: row.value,
    at: new Date(row.at).toISOString(),
  };
}
