import type { ColumnType, Generated, Selectable } from 'kysely';
import type { CreatedAt, Timestamp } from '../column-types';

export type AlertComparator = '>' | '>=' | '<' | '<=' | '==' | '!=';

export type AlertSeverity = 'info' | 'warning' | 'critical';

export type AlertState = 'inactive' | 'pending' | 'firing';

/** A history entry's destination: a state, or `resolved` (a firing alert whose condition cleared). */
export type AlertTransitionTo = AlertState | 'resolved';

export interface AlertRulesTable {
  id: Generated<string>;
  /** Null: a platform-wide rule, managed by the platform (the default rules). */
  organization_id: string | null;
  /** The `alertname` label of its notifications. */
  name: string;
  /** In the language of server/base/expressions/expression.ts, checked before it is stored. */
  expression: string;
  comparator: AlertComparator;
  threshold: number;
  /** How long the condition must hold before the alert fires. */
  for_seconds: number;
  severity: AlertSeverity;
  labels: ColumnType<Record<string, string>, string | undefined, string>;
  annotations: ColumnType<Record<string, string>, string | undefined, string>;
  enabled: Generated<boolean>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type AlertRuleRow = Selectable<AlertRulesTable>;
