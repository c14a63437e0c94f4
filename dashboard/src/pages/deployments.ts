import { client, describeError } from '../api';
import { button, field, formatDate, h, table } from '../dom';
import { openFormDialog } from './form-dialog';
import { refresher, status } from './refresher';

type Action = 'approve' | 'promote' | 'abort';

export function renderDeployments(main: HTMLElement): () => void {
  const list = h('div');
  const detail = h('section', { 'aria-label': 'Selected deployment', 'aria-live': 'polite' });
  const message = h('p', { class: 'error', role: 'alert' });
  main.replaceChildren(h('h1', {}, 'Deployments'), message, list, detail);
  let shown: { stop: () => void; reload: () => Promise<void> } | undefined;

  const deployments = refresher(
    list,
    () => client.devops.deployments.list.query({ limit: 50 }),
    (page) =>
      table(
        'Deployments, newest first',
        [
          { header: 'Service', cell: (d) => d.service },
          { header: 'Environment', cell: (d) => d.environment },
          { header: 'Version', cell: (d) => d.version },
          { header: 'Strategy', cell: (d) => d.strategy },
          { header: 'Status', cell: (d) => status(d.status) },
          { header: 'Step', cell: (d) => `${Math.min(d.currentStep + 1, d.plan.length)} / ${d.plan.length}` },
          { header: 'Created', cell: (d) => formatDate(d.createdAt) },
          {
            header: 'Details',
            cell: (d) =>
              button('Open', () => select(d.id), {
                'aria-label': `Open deployment ${d.service} ${d.version}`,
              }),
          },
        ],
        page.items,
      ),
    2_000,
  );

  function select(id: string) {
    shown?.stop();
    shown = refresher(detail, () => client.devops.deployments.get.query({ id }), drawDetail, 2_000);
  }

  async function act(action: Action, id: string, step: number) {
    message.textContent = '';
    try {
      if (action === 'approve') await client.devops.deployments.approve.mutate({ id, step });
      else if (action === 'promote') await client.devops.deployments.promote.mutate({ id });
      else await client.devops.deployments.abort.mutate({ id });
      await Promise.all([deployments.reload(), shown?.reload()]);
    } catch (error) {
      message.textContent = describeError(error);
    }
  }

  /**
   * Sends a promoted deployment's traffic back to the version it replaced (or retries a failed
   * rollback); marking the version bad keeps it from being deployed again.
   */
  function rollback(id: string, label: string) {
    const reason = h('input', { id: 'rollback-reason', name: 'reason', maxlength: '500' });
    const markBad = h('input', { id: 'rollback-mark-bad', name: 'markBad', type: 'checkbox' });
    const dialog = openFormDialog({
      title: `Roll back ${label}`,
      fields: [
        field('Reason', reason),
        field('Mark this version bad: it may not be deployed again', markBad),
      ],
      submitLabel: 'Roll back',
      danger: true,
      submit: async () => {
        message.textContent = '';
        await client.devops.deployments.rollback.mutate({
          id,
          ...(reason.value.trim() ? { reason: reason.value.trim() } : {}),
          markBad: markBad.checked,
        });
      },
    });
    dialog.addEventListener('close', () => void Promise.all([deployments.reload(), shown?.reload()]));
  }

  type Deployment = Awaited<ReturnType<typeof client.devops.deployments.get.query>>;
  function drawDetail(d: Deployment): Node {
    const measurements = d.stepState.measurements ?? [];
    const active = d.status === 'progressing' || d.status === 'paused' || d.status === 'pending';
    return h(
      'div',
      { class: 'detail', 'data-testid': 'deployment-detail' },
      h('h2', {}, `${d.service} ${d.version} → ${d.environment}`),
      h('p', {}, 'Status: ', status(d.status), d.pausedReason ? ` (${d.pausedReason})` : ''),
      active
        ? h(
            'div',
            { class: 'toolbar' },
            button('Approve', () => void act('approve', d.id, d.currentStep)),
            button('Promote', () => void act('promote', d.id, d.currentStep)),
            button('Abort', () => void act('abort', d.id, d.currentStep), { class: 'danger' }),
          )
        : null,
      d.status === 'promoted' || d.status === 'failed'
        ? h(
            'div',
            { class: 'toolbar' },
            button('Roll back', () => rollback(d.id, `${d.service} ${d.version}`), { class: 'danger' }),
          )
        : null,
      h(
        'ol',
        { class: 'steps', 'aria-label': 'Steps' },
        ...d.plan.map((step, index) =>
          h(
            'li',
            { 'aria-current': index === d.currentStep && active ? 'step' : undefined },
            JSON.stringify(step),
          ),
        ),
      ),
      table(
        'Analysis measurements of the current step',
        [
          { header: 'Metric', cell: (m) => m.metric },
          { header: 'At', cell: (m) => formatDate(m.at) },
          { header: 'Value', cell: (m) => (m.value === null ? '–' : String(m.value)) },
          { header: 'Phase', cell: (m) => status(m.phase) },
        ],
        measurements,
      ),
    );
  }

  return () => {
    deployments.stop();
    shown?.stop();
  };
}
