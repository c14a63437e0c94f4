import { API_KEY_SCOPES } from '../../../shared/api-key-constants';
import type { ApiKeyScope } from '../../../shared/auth';
import type { Me } from '../api';
import { button, field, h } from '../dom';

/** A named rate limit as the API takes it. */
interface RateLimit {
  name: string;
  limit: number;
  periodMs: number;
}

/** What a key's form edits; `environment` only when creating (it is part of the key itself). */
export interface ApiKeySettings {
  scopes: ApiKeyScope[];
  expiresAt: string | null;
  remaining: number | null;
  rateLimits: RateLimit[];
}

const PERIODS: [number, string][] = [
  [1_000, 'second'],
  [60_000, 'minute'],
  [3_600_000, 'hour'],
  [86_400_000, 'day'],
];

/**
 * The scopes a key of `me` may be given: a key calling the API grants only scopes it holds
 * (the server refuses others); a signed-in user any scope, and the key then never does more than
 * its owner's role allows at each call.
 */
export function offeredScopes(me: Me): readonly ApiKeyScope[] {
  const known = new Set<string>(API_KEY_SCOPES);
  return me.scopes ? (me.scopes.filter((scope) => known.has(scope)) as ApiKeyScope[]) : API_KEY_SCOPES;
}

/**
 * The settings of a key, as form fields: scopes as checkboxes, expiry, uses and named rate limits.
 * A new key starts with no scope ticked (least privilege: the client's needs are chosen, not
 * inherited); an edited one with its own. `prefix` keeps ids apart when two forms are open.
 */
export function apiKeySettingsFields(
  prefix: string,
  me: Me,
  current?: { scopes: string[]; expiresAt: string | null; remaining: number | null; rateLimits: RateLimit[] },
): { fields: HTMLElement[]; read: () => ApiKeySettings } {
  const held = new Set(current?.scopes ?? []);
  const boxes = offeredScopes(me).map((scope) => {
    const box = h('input', {
      type: 'checkbox',
      id: `${prefix}-scope-${scope.replace(':', '-')}`,
      name: 'scopes',
      value: scope,
      checked: held.has(scope),
    });
    return { scope, box, element: field(scope, box) };
  });
  const scopes = h(
    'fieldset',
    { class: 'scope-list' },
    h('legend', {}, 'Scopes'),
    h('small', {}, 'Tick only what the key’s client needs; a key with none can only ask who it is.'),
    h('div', { class: 'scope-grid' }, ...boxes.map((entry) => entry.element)),
  );

  const expires = h('input', { id: `${prefix}-expires`, name: 'expiresAt', type: 'datetime-local' });
  if (current?.expiresAt) expires.value = toLocalInput(current.expiresAt);
  const remaining = h('input', {
    id: `${prefix}-remaining`,
    name: 'remaining',
    type: 'number',
    min: '0',
    step: '1',
    inputmode: 'numeric',
  });
  if (current?.remaining !== null && current?.remaining !== undefined)
    remaining.value = String(current.remaining);

  const limitRows = h('div', { class: 'rate-limit-rows' });
  let rowCount = 0;
  const rows: {
    name: HTMLInputElement;
    limit: HTMLInputElement;
    period: HTMLSelectElement;
    element: HTMLElement;
  }[] = [];
  const addRow = (value?: RateLimit) => {
    const n = ++rowCount;
    const name = h('input', {
      id: `${prefix}-limit-${n}-name`,
      required: true,
      pattern: '[a-z][a-z0-9_\\-]{0,31}',
      maxlength: '32',
      placeholder: 'burst',
    });
    const limit = h('input', {
      id: `${prefix}-limit-${n}-limit`,
      type: 'number',
      min: '1',
      step: '1',
      required: true,
    });
    const period = h(
      'select',
      { id: `${prefix}-limit-${n}-period` },
      ...PERIODS.map(([ms, label]) => h('option', { value: String(ms) }, `per ${label}`)),
    );
    if (value) {
      name.value = value.name;
      limit.value = String(value.limit);
      if (!PERIODS.some(([ms]) => ms === value.periodMs))
        period.appendChild(h('option', { value: String(value.periodMs) }, `per ${value.periodMs} ms`));
      period.value = String(value.periodMs);
    }
    const row = {
      name,
      limit,
      period,
      element: h(
        'div',
        { class: 'rate-limit-row' },
        field(`Rate limit ${n} name`, name),
        field(`Rate limit ${n} requests`, limit),
        field(`Rate limit ${n} period`, period),
        button(
          'Remove',
          () => {
            rows.splice(rows.indexOf(row), 1);
            row.element.remove();
          },
          { 'aria-label': `Remove rate limit ${n}` },
        ),
      ),
    };
    rows.push(row);
    limitRows.appendChild(row.element);
  };
  for (const limit of current?.rateLimits ?? []) addRow(limit);
  const limits = h(
    'fieldset',
    { class: 'rate-limits' },
    h('legend', {}, 'Rate limits'),
    h('small', {}, 'Each named limit counts the key’s calls on every instance; up to five.'),
    limitRows,
    button('Add a rate limit', () => {
      if (rows.length < 5) addRow();
    }),
  );

  return {
    fields: [
      scopes,
      field('Expires (optional)', expires, { hint: 'Your local time; empty: never.' }),
      field('Uses allowed (optional)', remaining, {
        hint: 'Calls the key may make in all; empty: unlimited.',
      }),
      limits,
    ],
    read: () => ({
      scopes: boxes.filter((entry) => entry.box.checked).map((entry) => entry.scope),
      expiresAt: expires.value ? new Date(expires.value).toISOString() : null,
      remaining: remaining.value === '' ? null : Number(remaining.value),
      rateLimits: rows.map((row) => ({
        name: row.name.value.trim(),
        limit: Number(row.limit.value),
        periodMs: Number(row.period.value),
      })),
    }),
  };
}

/** An ISO date-time as a datetime-local input's value, in the browser's time zone. */
function toLocalInput(iso: string): string {
  const date = new Date(iso);
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}
