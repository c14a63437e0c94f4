import type {
  AlertComparator,
  AlertState,
  AlertTransitionTo,
} from '../../../db/repositories/alert-rules.table';

/** Where an alert stands: its state and since when. */
export interface AlertStatus {
  state: AlertState;
  since: Date;
}

export interface AlertTransition {
  from: AlertState;
  /** `resolved`: a firing alert whose condition cleared (it is inactive again). */
  to: AlertTransitionTo;
}

/**
 * One evaluation's step of an alert, as Prometheus steps its alerting rules: inactive → pending
 * when the condition holds, pending → firing once it has held for `forSeconds` (at once when that
 * is 0), and back to inactive when it stops holding (a firing alert's return is `resolved`).
 */
export function nextStatus(
  current: AlertStatus | null,
  holds: boolean,
  forSeconds: number,
  now: Date,
): { status: AlertStatus; transition: AlertTransition | null } {
  const state = current?.state ?? 'inactive';
  const stay = { status: current ?? { state: 'inactive' as const, since: now }, transition: null };
  const move = (to: AlertState, shown: AlertTransitionTo = to) => ({
    status: { state: to, since: now },
    transition: { from: state, to: shown },
  });
  if (holds) {
    if (state === 'inactive') return move(forSeconds === 0 ? 'firing' : 'pending');
    if (state === 'pending' && current && now.getTime() - current.since.getTime() >= forSeconds * 1000) {
      return move('firing');
    }
    return stay;
  }
  if (state === 'pending') return move('inactive');
  if (state === 'firing') return move('inactive', 'resolved');
  return stay;
}

/**
 * A stored state as this evaluator counts it. `for` runs from the first failing evaluation of a
 * running evaluator (Prometheus semantics): a pending state this evaluator did not write itself,
 * one loaded after a restart or taken over with another instance's lease, starts counting `now`
 * rather than at its stored `since`, which would count the downtime as time the condition held.
 * `ownSince` is the `since` of the pending state this evaluator last wrote for the rule, if any.
 */
export function countedStatus(
  stored: AlertStatus | null,
  ownSince: Date | undefined,
  now: Date,
): AlertStatus | null {
  if (stored?.state !== 'pending') return stored;
  if (ownSince?.getTime() === stored.since.getTime()) return stored;
  return { state: 'pending', since: now };
}

/** Whether a transition is one receivers are told of. */
export function notifies(transition: AlertTransition): boolean {
  return transition.to === 'firing' || transition.to === 'resolved';
}

/** `value comparator threshold`; never true of NaN (no data). */
export function conditionHolds(value: number, comparator: AlertComparator, threshold: number): boolean {
  switch (comparator) {
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return !Number.isNaN(value) && value !== threshold;
  }
}
