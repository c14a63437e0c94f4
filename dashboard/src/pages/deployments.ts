import { client, describeError, holdsRole, type Me } from '../api';
import { button, field, formatDate, h, table } from '../dom';
import { openDeploymentForm } from './deployment-form';
import { detailsList } from './details-list';
import { openFormDialog } from './form-dialog';
import { refresher, status } from './refresher';

type Action = 'approve' | 'promote' | 'abort';

type Deployment = Awaited<ReturnType<typeof client.devops.deployments.get.query>>;

/**
 * Deployments: everyone in the organization follows them; operators start them (the form in
 * deployment-form.ts) and steer them (approve, promote, abort, roll back), as the server allows.
 */
export function renderDeployments(main: HTMLElement, me: Me): () => void {
  const maySteer = holdsRole(me, 'operator');
  const list = h('div');
  const detail = h('section', { 'aria-label': 'Selected deployment', 'aria-live': 'polite' });
  const message = h('p', { class: 'error', role: 'alert' });
  let earlier: Awaited<ReturnType<typeof client.devops.deployments.list.query>>['items'] = [];
  const start = button('Start deployment', () => openDeploymentForm(earlier, started), { class: 'primary' });
  main.replaceChildren(
    h('h1', {}, 'Deployments'),
    maySteer ? h('div', { class: 'toolbar' }, start) : '',
    message,
    list,
    detail,
  );
  let shown: { stop: () => void; reload: () => Promise<void> } | undefined;

  function started(id: string) {
    void deployments.reload();
    select(id);
  }

  const deployments = refresher(
    list,
    () => client.devops.deployments.list.query({ limit: 50 }),
    (page) => {
      earlier = page.items;
      return table(
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
      );
    },
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

  function drawDetail(d: Deployment): Node {
    const measurements = d.stepState.measurements ?? [];
    const active = d.status === 'progressing' || d.status === 'paused' || d.status === 'pending';
    return h(
      'div',
      { class: 'detail', 'data-testid': 'deployment-detail' },
      h('h2', {}, `${d.service} ${d.version} → ${d.environment}`),
      h('p', {}, 'Status: ', status(d.status), d.pausedReason ? ` (${d.pausedReason})` : ''),
      active && maySteer
        ? h(
            'div',
            { class: 'toolbar' },
            button('Approve', () => void act('approve', d.id, d.currentStep)),
            button('Promote', () => void act('promote', d.id, d.currentStep)),
            button('Abort', () => void act('abort', d.id, d.currentStep), { class: 'danger' }),
          )
        : null,
      maySteer && (d.status === 'promoted' || d.status === 'failed')
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
            describeStep(step),
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
      table(
        'What happened, newest first (the last 50 events)',
        [
          { header: 'At', cell: (e) => formatDate(e.at) },
          { header: 'Event', cell: (e) => sentence(e.type) },
          {
            header: 'Status',
            cell: (e) =>
              e.toStatus && e.toStatus !== e.fromStatus ? `${e.fromStatus ?? '–'} → ${e.toStatus}` : '',
          },
          { header: 'Step', cell: (e) => (e.step === null ? '' : e.step + 1) },
          { header: 'Details', cell: (e) => detailsList(e.details) },
        ],
        d.events.slice(-50).reverse(),
      ),
    );
  }

  return () => {
    deployments.stop();
    shown?.stop();
  };
}

/** A plan step in words. */
function describeStep(step: Deployment['plan'][number]): string {
  switch (step.kind) {
    case 'prepare':
      return 'Prepare the new version';
    case 'setWeight':
      return `Send ${step.weight} % of traffic to the new version`;
    case 'scale':
      return `Replace replicas: ${step.updated} of ${step.total} updated`;
    case 'pause':
      return step.durationSeconds === null
        ? 'Pause until approved'
        : `Pause ${step.durationSeconds} s${step.purpose === 'pause' ? '' : ` (${step.purpose === 'betweenBatches' ? 'between batches' : 'before scaling the old version down'})`}`;
    case 'analysis':
      return `Analyse ${step.analysis.metrics.map((m) => m.name).join(', ')} (${step.analysis.count} × every ${step.analysis.intervalSeconds} s)`;
    case 'gate':
      return `Wait for approval: ${step.name}`;
    case 'promote':
      return 'Promote: all traffic to the new version';
  }
}

/** `step_started` → "Step started" (an event, told apart from a status such as `paused`). */
function sentence(type: string): string {
  const words = type.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}
