import { createHash } from 'node:crypto';
import type { AlertSeverity } from '../../../db/repositories/alert-rules.table';

/** One alert in an Alertmanager webhook body. */
export interface AlertmanagerAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/**
 * The body Alertmanager's webhook receiver posts (`webhook_config`, version 4), so receivers
 * written for Alertmanager take the platform's notifications unchanged.
 */
export interface AlertmanagerMessage {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AlertmanagerAlert[];
}

/** Go's zero time: what Alertmanager sends as the endsAt of an alert still firing. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface RuleIdentity {
  name: string;
  severity: AlertSeverity;
  labels: Record<string, string>;
}

/** The alert's labels: the rule's own, then `alertname` and `severity`, which nothing overrides. */
export function alertLabels(rule: RuleIdentity): Record<string, string> {
  return { ...rule.labels, alertname: rule.name, severity: rule.severity };
}

/**
 * A stable id of the alert's label set, 16 hex digits like Alertmanager's (which hashes with
 * FNV-64a; the value only has to be stable and distinct, not identical to theirs).
 */
export function fingerprint(labels: Record<string, string>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(labels).sort()) {
    hash
      .update(name)
      .update('\u00ff')
      .update(labels[name] as string)
      .update('\u00ff');
  }
  return hash.digest('hex').slice(0, 16);
}

export interface PayloadInput {
  rule: RuleIdentity & { annotations: Record<string, string> };
  status: 'firing' | 'resolved';
  /** When the alert fired. */
  startsAt: Date;
  /** When it resolved; null while firing. */
  endsAt: Date | null;
  /** The receiving webhook's name. */
  receiver: string;
  /** Where the platform is reached (ALERT_EXTERNAL_URL); '' when unknown. */
  externalUrl: string;
}

export function alertmanagerMessage(input: PayloadInput): AlertmanagerMessage {
  const labels = alertLabels(input.rule);
  const base = input.externalUrl.replace(/\/+$/, '');
  return {
    version: '4',
    groupKey: `{}:{alertname=${JSON.stringify(input.rule.name)}}`,
    truncatedAlerts: 0,
    status: input.status,
    receiver: input.receiver,
    groupLabels: { alertname: input.rule.name },
    commonLabels: labels,
    commonAnnotations: input.rule.annotations,
    externalURL: base,
    alerts: [
      {
        status: input.status,
        labels,
        annotations: input.rule.annotations,
        startsAt: input.startsAt.toISOString(),
        endsAt: input.endsAt ? input.endsAt.toISOString() : ZERO_TIME,
        generatorURL: base ? `${base}/api/trpc/performance.alerts.list` : '',
        fingerprint: fingerprint(labels),
      },
    ],
  };
}
