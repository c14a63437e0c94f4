import { client, describeError, holdsPlatformRole, type Me } from '../api';
import { button, confirmAction, field, formatDate, formatNumber, h, openDialog, table } from '../dom';
import { renderPointInTime } from './backup-point-in-time';
import { renderBackupSchedules } from './backup-schedules';
import { openFormDialog } from './form-dialog';
import { refresher, status } from './refresher';

export function renderBackups(main: HTMLElement, me: Me): () => void {
  // Restoring and deleting destroy data, schedules decide what is kept, and a base backup reads
  // the whole data directory: a platform admin's, not an operator's (the server says the same).
  const mayRestore = holdsPlatformRole(me, 'admin');
  const schedules = renderBackupSchedules(mayRestore);
  const pointInTime = renderPointInTime(mayRestore);
  const list = h('div');
  const message = h('p', { class: 'error', role: 'alert' });
  const create = button(
    'Create backup',
    () => {
      message.textContent = '';
      client.devops.backups.create
        .mutate({ wait: false })
        .then(() => backups.reload())
        .catch((error) => {
          message.textContent = describeError(error);
        });
    },
    { class: 'primary' },
  );
  main.replaceChildren(
    h('h1', {}, 'Backups'),
    h('div', { class: 'toolbar' }, create),
    message,
    list,
    schedules.element,
    pointInTime.element,
  );

  const backups = refresher(
    list,
    () => client.devops.backups.list.query({ limit: 50 }),
    (page) =>
      table(
        'Backups',
        [
          { header: 'Created', cell: (b) => formatDate(b.createdAt) },
          { header: 'Status', cell: (b) => status(b.status) },
          { header: 'Method', cell: (b) => b.method ?? '–' },
          { header: 'Rows', cell: (b) => formatNumber(b.rows) },
          { header: 'Size (bytes)', cell: (b) => formatNumber(b.sizeBytes) },
          { header: 'Verified', cell: (b) => formatDate(b.verifiedAt) },
          { header: 'Error', cell: (b) => b.error ?? '' },
          {
            header: 'Actions',
            cell: (b) =>
              h(
                'div',
                { class: 'row-actions' },
                b.status === 'succeeded' &&
                  button('Verify', () => void verify(b.id), {
                    'aria-label': `Verify backup of ${formatDate(b.createdAt)}`,
                  }),
                b.status === 'succeeded' &&
                  mayRestore &&
                  button('Restore', () => restore(b.id, formatDate(b.createdAt)), {
                    class: 'danger',
                    'aria-label': `Restore backup of ${formatDate(b.createdAt)}`,
                  }),
                b.status !== 'running' &&
                  mayRestore &&
                  button('Delete', () => void remove(b.id, formatDate(b.createdAt)), {
                    class: 'danger',
                    'aria-label': `Delete backup of ${formatDate(b.createdAt)}`,
                  }),
              ),
          },
        ],
        page.items,
      ),
    3_000,
  );

  /** Deletes a backup's archive and its row, once confirmed: there is no undo. */
  async function remove(id: string, label: string) {
    const sure = await confirmAction(
      `Delete the backup of ${label}? Its archive is removed and cannot be restored afterwards.`,
      'Delete backup',
    );
    if (!sure) return;
    message.textContent = '';
    try {
      await client.devops.backups.delete.mutate({ id });
      await backups.reload();
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  async function verify(id: string) {
    try {
      const result = await client.devops.backups.verify.mutate({ id });
      openDialog(
        result.ok ? 'Backup verified' : 'Backup verification failed',
        h(
          'p',
          { 'data-testid': 'verify-result' },
          result.ok ? 'Every file matches its checksum and row count.' : 'Problems found:',
        ),
        result.problems.length > 0
          ? h('ul', {}, ...result.problems.map((problem) => h('li', {}, problem)))
          : null,
        table(
          'Files checked',
          [
            { header: 'Table', cell: (f) => f.table },
            { header: 'OK', cell: (f) => (f.ok ? 'yes' : 'no') },
            { header: 'Rows', cell: (f) => f.expected.rows },
          ],
          result.files,
        ),
      );
      await backups.reload();
    } catch (error) {
      message.textContent = describeError(error);
    }
  }
  /**
   * Restores into another database (a scratch copy, a new environment), or into the platform's
   * own, which replaces all its data: the server asks for maintenance mode first, and both need
   * the confirmation box ticked before a database holding data is overwritten.
   */
  function restore(id: string, label: string) {
    const target = h('input', {
      id: 'restore-target',
      name: 'targetDatabaseUrl',
      type: 'text',
      inputmode: 'url',
      autocomplete: 'off',
      spellcheck: 'false',
      placeholder: 'postgres://user:password@host:5432/database',
    });
    const confirm = h('input', { id: 'restore-confirm', name: 'confirm', type: 'checkbox' });
    let result: Awaited<ReturnType<typeof client.devops.backups.restore.mutate>> | null = null;
    const dialog = openFormDialog({
      title: `Restore the backup of ${label}`,
      fields: [
        field('Target database URL', target, {
          hint: "Empty: the platform's own database, whose data the backup replaces (put the platform in maintenance first).",
        }),
        field('Replace the data the target database holds', confirm),
      ],
      submitLabel: 'Restore',
      danger: true,
      submit: async () => {
        const url = target.value.trim();
        result = await client.devops.backups.restore.mutate({
          id,
          ...(url ? { targetDatabaseUrl: url } : {}),
          confirm: confirm.checked,
        });
      },
    });
    dialog.addEventListener('close', () => {
      if (!result) return;
      const restored = result;
      const rows = restored.tables.reduce((sum, t) => sum + t.rows, 0);
      openDialog(
        'Backup restored',
        h(
          'p',
          { 'data-testid': 'restore-result' },
          `${restored.tables.length} tables, ${rows} rows restored into ${restored.target.database} on ${restored.target.host}`,
          restored.replacedData ? ', replacing the data it held' : '',
          ` in ${Math.round(restored.durationMs)} ms.`,
        ),
        restored.migrated.length > 0
          ? h('p', {}, `Migrated afterwards: ${restored.migrated.join(', ')}`)
          : null,
        table(
          'Tables restored',
          [
            { header: 'Table', cell: (t) => t.name },
            { header: 'Rows', cell: (t) => t.rows },
          ],
          restored.tables,
        ),
      );
    });
  }

  return () => {
    backups.stop();
    schedules.stop();
    pointInTime.stop();
  };
}
