import { client, describeError } from '../api';
import { button, formatDate, formatNumber, h, openDialog, table } from '../dom';
import { refresher, status } from './refresher';

export function renderBackups(main: HTMLElement): () => void {
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
  main.replaceChildren(h('h1', {}, 'Backups'), h('div', { class: 'toolbar' }, create), message, list);

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
              b.status === 'succeeded'
                ? button('Verify', () => void verify(b.id), {
                    'aria-label': `Verify backup of ${formatDate(b.createdAt)}`,
                  })
                : '',
          },
        ],
        page.backups,
      ),
    3_000,
  );

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
  return backups.stop;
}
