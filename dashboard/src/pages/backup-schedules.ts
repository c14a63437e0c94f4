import { client, describeError } from '../api';
import { button, confirmAction, field, formatDate, h, table } from '../dom';
import { openFormDialog } from './form-dialog';
import { refresher, status } from './refresher';

type Schedule = Awaited<ReturnType<typeof client.devops.backups.schedules.list.query>>[number];

/**
 * Backup schedules: when backups run by themselves (cron, UTC) and how many of theirs are kept.
 * Platform operators read them; platform admins (`mayManage`) create, pause, resume, edit and
 * delete them, as the server allows.
 */
export function renderBackupSchedules(mayManage: boolean): { element: HTMLElement; stop: () => void } {
  const list = h('div');
  const message = h('p', { class: 'error', role: 'alert' });
  const add = mayManage ? button('New schedule', () => edit(null), { class: 'primary' }) : null;
  const element = h(
    'section',
    { 'aria-labelledby': 'schedules-title' },
    h('h2', { id: 'schedules-title' }, 'Schedules'),
    add
      ? h('div', { class: 'toolbar' }, add)
      : h('p', { class: 'muted' }, 'Only platform admins change schedules.'),
    message,
    list,
  );

  const schedules = refresher(
    list,
    () => client.devops.backups.schedules.list.query(),
    (rows) =>
      table(
        'Backup schedules',
        [
          { header: 'When (cron, UTC)', cell: (s) => h('code', {}, s.cron) },
          { header: 'State', cell: (s) => status(s.enabled ? 'active' : 'paused') },
          { header: 'Keeps', cell: keeps },
          { header: 'Last run', cell: (s) => formatDate(s.lastRunAt) },
          { header: 'Next run', cell: (s) => (s.enabled ? formatDate(s.nextRunAt) : '–') },
          ...(mayManage ? [{ header: 'Actions', cell: actions }] : []),
        ],
        rows,
      ),
    10_000,
  );

  function actions(s: Schedule): Node {
    const label = `schedule ${s.cron}`;
    return h(
      'div',
      { class: 'row-actions' },
      button(
        s.enabled ? 'Pause' : 'Resume',
        () => void act(() => update({ id: s.id, enabled: !s.enabled })),
        {
          'aria-label': `${s.enabled ? 'Pause' : 'Resume'} ${label}`,
        },
      ),
      button('Edit', () => edit(s), { 'aria-label': `Edit ${label}` }),
      button('Delete', () => void remove(s), { class: 'danger', 'aria-label': `Delete ${label}` }),
    );
  }

  async function act(work: () => Promise<unknown>) {
    message.textContent = '';
    try {
      await work();
      await schedules.reload();
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  const update = (input: Parameters<typeof client.devops.backups.schedules.update.mutate>[0]) =>
    client.devops.backups.schedules.update.mutate(input);

  async function remove(s: Schedule) {
    const sure = await confirmAction(
      `Delete the schedule "${s.cron}"? Backups it made stay until deleted one by one.`,
      'Delete schedule',
    );
    if (sure) await act(() => client.devops.backups.schedules.delete.mutate({ id: s.id }));
  }

  /** The create form (`s` null) or the edit form of `s`: cron, retention by count and by age. */
  function edit(s: Schedule | null) {
    const cron = h('input', {
      id: 'schedule-cron',
      name: 'cron',
      required: true,
      maxlength: '200',
      spellcheck: 'false',
      value: s?.cron ?? '0 3 * * *',
    });
    const count = h('input', {
      id: 'schedule-retention-count',
      name: 'retentionCount',
      type: 'number',
      min: '1',
      max: '10000',
      value: s?.retentionCount?.toString() ?? '7',
    });
    const days = h('input', {
      id: 'schedule-retention-days',
      name: 'retentionDays',
      type: 'number',
      min: '1',
      max: '36500',
      value: s?.retentionDays?.toString() ?? '',
    });
    const enabled = h('input', {
      id: 'schedule-enabled',
      name: 'enabled',
      type: 'checkbox',
      checked: s?.enabled ?? true,
    });
    const dialog = openFormDialog({
      title: s ? `Edit the schedule ${s.cron}` : 'New backup schedule',
      fields: [
        field('When (cron, UTC)', cron, {
          hint: 'Five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *" every day at 03:00; or @daily, @hourly.',
        }),
        field('Keep the newest (backups)', count, { hint: 'Empty: no limit by count.' }),
        field('Keep those younger than (days)', days, {
          hint: 'Empty: no limit by age. With both, a backup either keeps is kept.',
        }),
        s ? null : field('Active: runs from now on', enabled),
      ],
      submitLabel: s ? 'Save schedule' : 'Create schedule',
      submit: async () => {
        const retention = {
          retentionCount: numberOrNull(count.value),
          retentionDays: numberOrNull(days.value),
        };
        if (s) await update({ id: s.id, cron: cron.value, ...retention });
        else
          await client.devops.backups.schedules.create.mutate({
            cron: cron.value,
            ...retention,
            enabled: enabled.checked,
          });
      },
    });
    dialog.addEventListener('close', () => void schedules.reload());
  }

  return { element, stop: schedules.stop };
}

function keeps(s: Schedule): string {
  const parts = [
    s.retentionCount === null ? null : `newest ${s.retentionCount}`,
    s.retentionDays === null ? null : `${s.retentionDays} days`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' or ') : 'all';
}

function numberOrNull(text: string): number | null {
  return text.trim() === '' ? null : Number(text);
}
