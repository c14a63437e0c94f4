import { describe, expect, it } from 'vitest';
import { alertLabels, alertmanagerMessage, fingerprint } from './alertmanager-payload';

const rule = {
  name: 'QueueBacklog',
  severity: 'warning' as const,
  labels: { team: 'mail', severity: 'ignored', alertname: 'ignored' },
  annotations: { summary: 'The mail queue is backing up' },
};

describe('alertmanagerMessage', () => {
  it('builds a version 4 webhook body with one firing alert', () => {
    const message = alertmanagerMessage({
      rule,
      status: 'firing',
      startsAt: new Date('2026-11-28T10:00:00.000Z'),
      endsAt: null,
      receiver: 'ops',
      externalUrl: 'https://platform.example.com/',
    });
    const labels = { team: 'mail', alertname: 'QueueBacklog', severity: 'warning' };
    expect(message).toEqual({
      version: '4',
      groupKey: '{}:{alertname="QueueBacklog"}',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'ops',
      groupLabels: { alertname: 'QueueBacklog' },
      commonLabels: labels,
      commonAnnotations: rule.annotations,
      externalURL: 'https://platform.example.com',
      alerts: [
        {
          status: 'firing',
          labels,
          annotations: rule.annotations,
          startsAt: '2026-11-28T10:00:00.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'https://platform.example.com/api/trpc/performance.alerts.list',
          fingerprint: fingerprint(labels),
        },
      ],
    });
  });

  it('gives a resolved alert its end, and the same fingerprint as when it fired', () => {
    const base = { rule, startsAt: new Date(0), receiver: 'ops', externalUrl: '' };
    const firing = alertmanagerMessage({ ...base, status: 'firing', endsAt: null });
    const resolved = alertmanagerMessage({ ...base, status: 'resolved', endsAt: new Date(60_000) });
    expect(resolved.status).toBe('resolved');
    expect(resolved.alerts[0]).toMatchObject({
      status: 'resolved',
      endsAt: '1970-01-01T00:01:00.000Z',
      generatorURL: '',
    });
    expect(resolved.alerts[0]?.fingerprint).toBe(firing.alerts[0]?.fingerprint);
  });
});

describe('fingerprint', () => {
  it('is 16 hex digits, independent of label order, different for different labels', () => {
    const a = fingerprint(alertLabels(rule));
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprint({ severity: 'warning', alertname: 'QueueBacklog', team: 'mail' })).toBe(a);
    expect(fingerprint({ ...alertLabels(rule), team: 'web' })).not.toBe(a);
    // The separator keeps {a: "bc"} and {ab: "c"} apart.
    expect(fingerprint({ a: 'bc' })).not.toBe(fingerprint({ ab: 'c' }));
  });
});
