import { client, describeError } from '../api';
import { button, formatDate, formatNumber, h, table } from '../dom';
import { figures, formatBytes } from './figures';
import { refresher } from './refresher';
import { copyControls } from './shown-once';

type PointInTime = Awaited<ReturnType<typeof client.devops.backups.pointInTime.status.query>>;
type Wal = NonNullable<PointInTime['wal']>;

const RECOVER_COMMAND = 'npm run db:recover -- --to <time> --data-dir <dir>';

/**
 * Point-in-time recovery: how far back the platform's database can be recovered, WAL archiving's
 * progress and the base backups. Platform admins (`mayTakeBaseBackup`) take a base backup now, as
 * the server allows. Recovery itself has no button: it needs a new data directory and a server
 * started on it, so the section shows the command instead.
 */
export function renderPointInTime(mayTakeBaseBackup: boolean): { element: HTMLElement; stop: () => void } {
  const body = h('div');
  const message = h('p', { class: 'error', role: 'alert' });
  const notice = h('p', { class: 'notice', role: 'status', 'data-testid': 'pitr-notice' });
  let busy = false;
  let latest: PointInTime | null = null;
  const take = mayTakeBaseBackup
    ? button('Take base backup', () => void takeBaseBackup(), { class: 'primary', disabled: true })
    : null;
  const element = h(
    'section',
    { class: 'pitr-section', 'aria-labelledby': 'pitr-title', 'aria-busy': 'false' },
    h('h2', { id: 'pitr-title' }, 'Point-in-time recovery'),
    take
      ? h('div', { class: 'toolbar' }, take, notice)
      : h('p', { class: 'muted' }, 'Only platform admins take base backups.'),
    message,
    body,
    recoverHint(),
  );

  const pointInTime = refresher(
    body,
    () => client.devops.backups.pointInTime.status.query(),
    (data) => {
      latest = data;
      syncButton();
      return draw(data);
    },
    5_000,
  );

  /** Enabled when PITR is on and no base backup is running (a second click would join it). */
  function syncButton() {
    if (!take) return;
    take.disabled = busy || !latest?.enabled || latest.baseBackupRunning;
    take.textContent = busy ? 'Taking base backup…' : 'Take base backup';
    element.setAttribute('aria-busy', String(busy));
  }

  async function takeBaseBackup() {
    message.textContent = '';
    notice.textContent = '';
    busy = true;
    syncButton();
    try {
      const base = await client.devops.backups.pointInTime.baseBackup.mutate();
      notice.textContent = `Base backup taken at ${formatDate(base.finishedAt)} (${formatBytes(base.dataBytes)}).`;
    } catch (error) {
      message.textContent = describeError(error);
    } finally {
      busy = false;
      await pointInTime.reload();
      syncButton();
    }
  }

  return { element, stop: pointInTime.stop };
}

function draw(data: PointInTime): Node {
  if (!data.enabled)
    return h(
      'p',
      { class: 'muted', 'data-testid': 'pitr-off' },
      sentence(data.reason ?? 'point-in-time recovery is off'),
    );
  return h(
    'div',
    {},
    h(
      'p',
      { 'data-testid': 'pitr-window' },
      data.window
        ? `Recoverable from ${formatDate(data.window.from)} to about ${formatDate(data.window.to)}.`
        : 'Not recoverable yet: no base backup has finished.',
    ),
    data.store ? h('p', {}, 'Store: ', h('code', {}, data.store)) : null,
    h('h3', {}, 'WAL archiving'),
    data.wal ? wal(data.wal) : h('p', { class: 'muted' }, 'No account of WAL archiving yet.'),
    table(
      'Base backups',
      [
        { header: 'Finished', cell: (b) => formatDate(b.finishedAt) },
        { header: 'Size', cell: (b) => formatBytes(b.dataBytes) },
        { header: 'Start WAL file', cell: (b) => h('code', {}, b.startWalFile) },
        { header: 'Timeline', cell: (b) => b.timeline },
      ],
      data.baseBackups,
    ),
    h(
      'p',
      { 'data-testid': 'pitr-next' },
      data.baseBackupRunning ? 'A base backup is running. ' : '',
      `Next scheduled base backup: ${formatDate(data.nextBaseBackupAt)}.`,
    ),
    data.lastBaseBackupError
      ? h(
          'p',
          { class: 'error' },
          `Last base backup failed at ${formatDate(data.lastBaseBackupError.at)}: ${data.lastBaseBackupError.message}`,
        )
      : null,
  );
}

/** Shipping from the spool to the store, and PostgreSQL's own count of what it archived. */
function wal(w: Wal): Node {
  const server = w.server;
  return h(
    'div',
    {},
    figures('pitr-wal', [
      ['WAL files stored', 'stored', `${w.storedFiles} (${formatBytes(w.storedBytes)})`],
      [
        'Waiting to be shipped',
        'pending',
        w.pendingFiles > 0 ? `${w.pendingFiles}, oldest ${age(w.oldestPendingSeconds)}` : '0',
      ],
      ['Shipped since start', 'shipped', String(w.shippedSinceStart)],
      ['Failures since start', 'failures', String(w.failuresSinceStart)],
    ]),
    h(
      'dl',
      { class: 'details pitr-details' },
      h('dt', {}, 'Newest stored WAL file'),
      h('dd', {}, w.newestFile ? h('code', {}, w.newestFile) : '–'),
      h('dt', {}, 'PostgreSQL archived'),
      server
        ? h(
            'dd',
            { 'data-testid': 'pitr-wal-server' },
            `${server.archivedCount} files, the last `,
            server.lastArchivedWal ? h('code', {}, server.lastArchivedWal) : '–',
            ` at ${formatDate(server.lastArchivedAt)}; ${server.failedCount} failed`,
            server.lastFailedWal
              ? ` (the last ${server.lastFailedWal} at ${formatDate(server.lastFailedAt)})`
              : '',
          )
        : h('dd', { 'data-testid': 'pitr-wal-server' }, 'could not be read'),
    ),
    w.lastError
      ? h(
          'p',
          { class: 'error' },
          `Last shipping error at ${formatDate(w.lastError.at)}: ${w.lastError.message}`,
        )
      : null,
  );
}

/** The copy-able recovery command: it runs offline, into a new data directory. */
function recoverHint(): HTMLElement {
  const code = h('code', { class: 'secret', 'data-testid': 'pitr-recover-command' }, RECOVER_COMMAND);
  const [copy, copied] = copyControls('Copy command', RECOVER_COMMAND, code);
  return h(
    'div',
    { class: 'pitr-recover' },
    h(
      'p',
      {},
      "To recover, run this where the platform's backup settings are set, with ",
      h('code', {}, '<time>'),
      ' an ISO time with its zone inside the window (or ',
      h('code', {}, 'latest'),
      ') and ',
      h('code', {}, '<dir>'),
      ' a new, empty data directory; then start the platform with DATA_DIR set to it.',
    ),
    code,
    h('div', { class: 'toolbar copy-row' }, copy, copied),
  );
}

/** Seconds as people read them: 45 s, 3 min, 2 h. */
function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7_200) return `${formatNumber(Math.round(seconds / 60))} min`;
  return `${formatNumber(Math.round(seconds / 3_600))} h`;
}

function sentence(text: string): string {
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}
