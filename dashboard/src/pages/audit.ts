import { allPages, client, describeError, holdsPlatformRole, type Me } from '../api';
import { button, field, formatDate, h, table } from '../dom';
import { AUDIT_EVENT_LABELS, type AuditEventType, type AuditInput, auditEventLabel } from './audit-types';
import { detailsList } from './details-list';
import { status } from './refresher';

type AuditEvent = Awaited<ReturnType<typeof client.auth.audit.list.query>>['items'][number];

const PAGE_SIZE = 50;
/** The time ranges offered besides a custom one, in minutes back from now. */
const RANGES: Record<string, number | null> = {
  'Last hour': 60,
  'Last 24 hours': 24 * 60,
  'Last 7 days': 7 * 24 * 60,
  'Last 30 days': 30 * 24 * 60,
  'Any time': null,
  Custom: null,
};

/**
 * The audit log: who did what to what, by name, filtered on the server by actor, event type and
 * time, a page at a time. Platform operators switch to the platform's own log.
 */
export function renderAudit(main: HTMLElement, me: Me): () => void {
  const log = h(
    'select',
    { id: 'audit-log', name: 'log' },
    h('option', { value: 'organization' }, 'Your organization'),
  );
  if (holdsPlatformRole(me, 'operator')) log.appendChild(h('option', { value: 'platform' }, 'The platform'));
  const actor = h('select', { id: 'audit-actor', name: 'actor' }, h('option', { value: '' }, 'Anyone'));
  const type = h(
    'select',
    { id: 'audit-type', name: 'type' },
    h('option', { value: '' }, 'Every event'),
    ...Object.entries(AUDIT_EVENT_LABELS).map(([value, label]) => h('option', { value }, label)),
  );
  const range = h(
    'select',
    { id: 'audit-range', name: 'range' },
    ...Object.keys(RANGES).map((label) =>
      h('option', { value: label, selected: label === 'Last 7 days' }, label),
    ),
  );
  const since = h('input', { id: 'audit-since', name: 'since', type: 'datetime-local' });
  const until = h('input', { id: 'audit-until', name: 'until', type: 'datetime-local' });
  const custom = h(
    'div',
    { class: 'inline-form', hidden: true },
    field('From', since),
    field('Until', until),
  );
  const filters = h(
    'form',
    { class: 'inline-form filters', 'aria-label': 'Filter the audit log' },
    log.options.length > 1 ? field('Log', log) : null,
    field('Actor', actor),
    field('Event', type),
    field('When', range),
    custom,
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
  );
  const message = h('p', { class: 'error', role: 'alert' });
  const list = h('div', { 'aria-live': 'polite' });
  const newer = button('Newer', () => void show(cursors.length - 2), { disabled: true });
  const older = button('Older', () => void show(cursors.length), { disabled: true });
  main.replaceChildren(
    h('h1', {}, 'Audit log'),
    filters,
    message,
    list,
    h('div', { class: 'toolbar', role: 'navigation', 'aria-label': 'Pages' }, newer, older),
  );

  /** The cursor of each page shown so far (undefined: the first); the last is the page on screen. */
  let cursors: (string | undefined)[] = [];
  let next: string | null = null;
  let stopped = false;

  range.addEventListener('change', () => {
    custom.hidden = range.value !== 'Custom';
  });
  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    cursors = [];
    void show(0);
  });
  void loadActors();
  void show(0);

  /** The actor filter's choices: the organization's users, then its API keys (`key:` values). */
  async function loadActors() {
    try {
      const [users, keys] = await Promise.all([
        allPages((page) => client.auth.users.list.query(page), 500),
        allPages((page) => client.auth.apiKeys.list.query(page), 500),
      ]);
      actor.appendChild(
        h(
          'optgroup',
          { label: 'Users' },
          ...users.map((user) =>
            h('option', { value: user.id }, user.name ? `${user.name} (${user.email})` : user.email),
          ),
        ),
      );
      if (keys.length > 0)
        actor.appendChild(
          h(
            'optgroup',
            { label: 'API keys' },
            ...keys.map((key) => h('option', { value: `key:${key.id}` }, `${key.name} (${key.prefix}…)`)),
          ),
        );
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  function query(cursor: string | undefined): AuditInput {
    const input: AuditInput = { limit: PAGE_SIZE, ...(cursor ? { cursor } : {}) };
    if (actor.value.startsWith('key:')) input.actorApiKeyId = actor.value.slice('key:'.length);
    else if (actor.value) input.actorUserId = actor.value;
    if (type.value) input.type = type.value as AuditEventType;
    const minutes = RANGES[range.value];
    if (minutes) input.since = new Date(Date.now() - minutes * 60_000).toISOString();
    if (range.value === 'Custom') {
      if (since.value) input.since = new Date(since.value).toISOString();
      if (until.value) input.until = new Date(until.value).toISOString();
    }
    return input;
  }

  /** Shows page `index` (0: the newest), whose cursor is known once the page before it was shown. */
  async function show(index: number) {
    if (index < 0) return;
    const cursor = index === 0 ? undefined : index < cursors.length ? cursors[index] : (next ?? undefined);
    message.textContent = '';
    try {
      const input = query(cursor);
      const page =
        log.value === 'platform'
          ? await client.auth.audit.platform.query(input)
          : await client.auth.audit.list.query(input);
      if (stopped) return;
      cursors = [...cursors.slice(0, index), cursor];
      next = page.nextCursor;
      list.replaceChildren(draw(page.items, index));
      newer.disabled = index === 0;
      older.disabled = next === null;
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  function draw(events: AuditEvent[], index: number): Node {
    return table(
      `Audit events, newest first (page ${index + 1})`,
      [
        { header: 'When', cell: (e) => formatDate(e.createdAt) },
        { header: 'Event', cell: (e) => auditEventLabel(e.type) },
        { header: 'Result', cell: (e) => status(e.result) },
        { header: 'Actor', cell: actorOf },
        { header: 'Target', cell: targetOf },
        { header: 'From', cell: (e) => e.ip ?? '–' },
        { header: 'Details', cell: (e) => detailsList(e.details) },
      ],
      events,
    );
  }

  return () => {
    stopped = true;
  };
}

function actorOf(e: AuditEvent): Node | string {
  if (e.actorUserId) {
    const name = e.actorName ?? e.actorEmail;
    const label = name
      ? h(
          'span',
          {},
          name,
          e.actorName && e.actorEmail ? h('small', { class: 'muted secondary-line' }, e.actorEmail) : null,
        )
      : h('span', { title: e.actorUserId }, 'a removed user');
    return e.actorApiKeyId
      ? h('span', {}, label, ` with key ${e.actorApiKeyName ?? 'since revoked'}`)
      : label;
  }
  if (e.actorApiKeyId) return `API key ${e.actorApiKeyName ?? 'since removed'}`;
  return '–';
}

function targetOf(e: AuditEvent): Node | string {
  if (!e.targetType) return '–';
  const kind = e.targetType.replaceAll('_', ' ');
  if (e.targetName) return `${kind} ${e.targetName}`;
  return h(
    'span',
    { title: e.targetId ?? '' },
    kind,
    e.targetId ? h('code', {}, ` ${e.targetId.slice(0, 8)}`) : null,
  );
}
