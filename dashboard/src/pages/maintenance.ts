import { client, holdsPlatformRole, type Me } from '../api';
import { field, formatDate, h } from '../dom';
import { feedback } from './form-parts';
import { refresher, status } from './refresher';

type State = Awaited<ReturnType<typeof client.devops.maintenance.get.query>>;

/**
 * Maintenance mode (platform scope): while on, every instance refuses changes with 503, the
 * message and Retry-After; reads, health and sign-in go on. Platform operators see it; platform
 * admins switch it (as the server allows).
 */
export function renderMaintenance(main: HTMLElement, me: Me): () => void {
  const mayChange = holdsPlatformRole(me, 'admin');
  const current = h('div', { 'data-testid': 'maintenance-state' });
  const result = feedback();
  main.replaceChildren(
    h('h1', {}, 'Maintenance'),
    h(
      'p',
      { class: 'muted' },
      'While on, every instance refuses changes (503 with your message and Retry-After); reading, health checks and signing in go on.',
    ),
    current,
    result.element,
  );

  const state = refresher(current, () => client.devops.maintenance.get.query(), draw, 10_000);

  function draw(s: State): Node {
    return h(
      'div',
      {},
      h(
        'dl',
        { class: 'details' },
        h('dt', {}, 'State'),
        h('dd', {}, status(s.enabled ? 'on' : 'off')),
        ...(s.enabled
          ? [
              h('dt', {}, 'Message'),
              h('dd', {}, s.message),
              h('dt', {}, 'Since'),
              h('dd', {}, formatDate(s.since)),
              h('dt', {}, 'Retry after'),
              h('dd', {}, `${s.retryAfterSeconds} s`),
            ]
          : []),
      ),
      mayChange ? form(s) : h('p', { class: 'muted' }, 'Only platform admins switch maintenance mode.'),
    );
  }

  function form(s: State): HTMLElement {
    const message = h(
      'textarea',
      { id: 'maintenance-message', name: 'message', maxlength: '500', rows: '2', required: !s.enabled },
      s.message || 'Scheduled maintenance: changes are paused for a few minutes.',
    );
    const retry = h('input', {
      id: 'maintenance-retry',
      name: 'retryAfterSeconds',
      type: 'number',
      min: '1',
      max: '86400',
      value: String(s.retryAfterSeconds || 300),
    });
    const submit = h(
      'button',
      { type: 'submit', class: s.enabled ? 'primary' : 'danger' },
      s.enabled ? 'Turn maintenance off' : 'Turn maintenance on',
    );
    const element = h(
      'form',
      { class: 'dialog-form', 'aria-label': 'Maintenance mode' },
      s.enabled ? null : field('Message shown to callers', message, { wide: true }),
      s.enabled ? null : field('Ask callers to retry after (seconds)', retry),
      submit,
    );
    element.addEventListener('submit', (event) => {
      event.preventDefault();
      submit.disabled = true;
      const input = s.enabled
        ? { enabled: false }
        : { enabled: true, message: message.value.trim(), retryAfterSeconds: Number(retry.value) };
      client.devops.maintenance.set
        .mutate(input)
        .then(async (next) => {
          result.ok(next.enabled ? 'Maintenance is on.' : 'Maintenance is off.');
          await state.reload();
        })
        .catch((error) => {
          result.fail(error);
          submit.disabled = false;
        });
    });
    return element;
  }

  return state.stop;
}
