import { client } from '../api';
import { formatDate, h, table } from '../dom';
import { refresher, status } from './refresher';

export function renderAudit(main: HTMLElement): () => void {
  const list = h('div');
  main.replaceChildren(h('h1', {}, 'Audit log'), list);
  return refresher(
    list,
    () => client.auth.audit.list.query({ limit: 100 }),
    (page) =>
      table(
        'Audit events, newest first',
        [
          { header: 'When', cell: (e) => formatDate(e.createdAt) },
          { header: 'Event', cell: (e) => e.type },
          { header: 'Result', cell: (e) => status(e.result) },
          { header: 'Actor', cell: (e) => e.actorUserId ?? e.actorApiKeyId ?? '–' },
          { header: 'Target', cell: (e) => (e.targetType ? `${e.targetType} ${e.targetId ?? ''}` : '–') },
          { header: 'IP', cell: (e) => e.ip ?? '–' },
          { header: 'Details', cell: (e) => h('code', {}, JSON.stringify(e.details)) },
        ],
        page.items,
      ),
    10_000,
  ).stop;
}
