import type { Generated, Selectable } from 'kysely';
import type { Timestamp } from '../column-types';
import type { AlertState, AlertTransitionTo } from './alert-rules.table';

export interface AlertStatesTable {
  rule_id: string;
  state: AlertState;
  /** When the current state began; for a firing alert, when it fired. */
  since: Timestamp;
  last_value: number | null;
  last_evaluated_at: Timestamp;
  /** Alertmanager-style fingerprint of the alert's labels. */
  fingerprint: string;
}

export type AlertStateRow = Selectable<AlertStatesTable>;

export interface AlertHistoryTable {
  id: Generated<string>;
  /** Null once the rule is deleted; its name and organization stay. */
  rule_id: string | null;
  organization_id: string | null;
  rule_name: string;
  from_state: AlertState;
  to_state: AlertTransitionTo;
  value: number | null;
  at: Timestamp;
}

export type AlertHistoryRow = Selectable<AlertHistoryTable>;

/** One row: the instance that evaluates alert rules, and until when. */
export interface AlertEvaluatorLeaseTable {
  id: Generated<boolean>;
  holder: string;
  expires_at: Date | string;
}
