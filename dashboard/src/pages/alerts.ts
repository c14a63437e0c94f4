import { client, describeError, holdsPlatformRole, type Me } from '../api';
import { button, confirmAction, field, formatDate, formatNumber, h, table } from '../dom';
import { renderAlertWebhooks } from './alert-webhooks';
import { tableOf } from './figures';
import { refresher, status } from './refresher';

type Rule = Awaited<ReturnType<typeof client.performance.alerts.list.query>>[number];
type RuleInput = Parameters<typeof client.performance.alerts.create.mutate>[0];

const COMPARATORS = ['>', '>=', '<', '<=', '==', '!='] as const satisfies readonly RuleInput['comparator'][];
const SEVERITIES = ['info', 'warning', 'critical'] as const satisfies readonly NonNullable<
  RuleInput['severity']
>[];
const REFRESH_MS = 5_000;
/** The server's parse errors read `expression at position N: …` (0-based). */
const EXPRESSION_POSITION = /^expression at position (\d+)/;

/**
 * Alert rules (the platform's read-only defaults and the organization's own), their history and,
 * for platform admins, the webhooks notifications go to.
 */
export function renderAlerts(main: HTMLElement, me: Me): () => void {
  const rulesHeading = h('h2', { id: 'alert-rules-title', tabindex: '-1' }, 'Rules');
  const rulesBox = h('div');
  const actionMessage = h('p', { class: 'error', role: 'alert' });
  const history = h('section', { 'aria-labelledby': 'alert-history-title' });
  const webhooks = h('div');
  const { form, stop: stopForm } = ruleForm(() => rules.reload());
  main.replaceChildren(
    h('h1', {}, 'Alerts'),
    h('section', { 'aria-labelledby': 'alert-rules-title' }, rulesHeading, form, actionMessage, rulesBox),
    history,
    webhooks,
  );

  const rules = refresher(
    rulesBox,
    () => client.performance.alerts.list.query(),
    (list) => rulesTable(list, { toggle, remove }),
  );
  // Redrawing replaces the buttons: not while someone is on one or answering its dialog.
  const rulesTimer = setInterval(() => {
    if (rulesBox.contains(document.activeElement) || document.querySelector('dialog[open]')) return;
    void rules.reload();
  }, REFRESH_MS);

  const historyBox = h('div');
  history.replaceChildren(h('h2', { id: 'alert-history-title' }, 'History'), historyBox);
  const historyRefresher = refresher(
    historyBox,
    () => client.performance.alerts.history.query({ limit: 50 }),
    (page) =>
      tableOf(
        'alert-table',
        'State changes, newest first (updated every 5 s)',
        [
          { header: 'Rule', cell: (e) => e.ruleName },
          { header: 'Change', cell: (e) => h('span', {}, status(e.from), ' → ', status(e.to)) },
          { header: 'Value', cell: (e) => formatNumber(e.value, 4) },
          { header: 'At', cell: (e) => formatDate(e.at) },
        ],
        page.items,
      ),
    REFRESH_MS,
  );

  // Webhooks are a platform admin's: anyone else would only be refused, so they do not see the section.
  const stopWebhooks = holdsPlatformRole(me, 'admin') ? renderAlertWebhooks(webhooks) : () => {};

  async function toggle(rule: Rule) {
    actionMessage.textContent = '';
    try {
      await client.performance.alerts.update.mutate({ id: rule.id, enabled: !rule.enabled });
      await rules.reload();
      // The redrawn row's button says the opposite now; keyboard users stay on it.
      rulesBox.querySelector<HTMLElement>(`[data-toggle="${CSS.escape(rule.id)}"]`)?.focus();
    } catch (error) {
      actionMessage.textContent = describeError(error);
    }
  }

  async function remove(rule: Rule) {
    if (!(await confirmAction(`Delete the alert rule “${rule.name}”? A firing alert is resolved.`, 'Delete')))
      return;
    actionMessage.textContent = '';
    try {
      await client.performance.alerts.delete.mutate({ id: rule.id });
      await rules.reload();
      // The row and its button are gone: focus goes back to the top of the rules.
      rulesHeading.focus();
    } catch (error) {
      actionMessage.textContent = describeError(error);
    }
  }

  return () => {
    clearInterval(rulesTimer);
    rules.stop();
    historyRefresher.stop();
    stopWebhooks();
    stopForm();
  };
}

function rulesTable(
  list: Rule[],
  actions: { toggle: (rule: Rule) => Promise<void>; remove: (rule: Rule) => Promise<void> },
): HTMLElement {
  const rules = table(
    'Alert rules and their current state',
    [
      { header: 'Name', cell: (r) => r.name },
      { header: 'Scope', cell: (r) => r.scope },
      { header: 'Expression', cell: (r) => h('code', {}, r.expression) },
      { header: 'Condition', cell: (r) => `${r.comparator} ${r.threshold} for ${r.forSeconds}s` },
      { header: 'Severity', cell: (r) => status(r.severity) },
      { header: 'State', cell: (r) => status(r.status?.state ?? 'not evaluated') },
      {
        header: 'Last evaluation',
        cell: (r) =>
          r.status
            ? h(
                'span',
                {},
                `value ${formatNumber(r.status.lastValue, 4)}`,
                h('br'),
                h('small', {}, formatDate(r.status.lastEvaluatedAt)),
              )
            : 'not yet',
      },
      { header: 'Enabled', cell: (r) => (r.enabled ? 'yes' : 'no') },
      {
        header: 'Actions',
        // Platform rules are the platform's defaults, kept in code: the server refuses changes.
        cell: (r) =>
          r.scope === 'platform'
            ? 'read-only'
            : h(
                'span',
                { class: 'row-actions' },
                button(r.enabled ? 'Disable' : 'Enable', () => void actions.toggle(r), {
                  'aria-label': `${r.enabled ? 'Disable' : 'Enable'} rule ${r.name}`,
                  'data-toggle': r.id,
                }),
                button('Delete', () => void actions.remove(r), {
                  class: 'danger',
                  'aria-label': `Delete rule ${r.name}`,
                }),
              ),
      },
    ],
    list,
  );
  rules.classList.add('alert-table', 'alert-rules');
  return rules;
}

/** The create form; the server checks everything and its message (with a position) is shown. */
function ruleForm(created: () => Promise<void>): { form: HTMLFormElement; stop: () => void } {
  const message = h('p', { class: 'error', role: 'alert', id: 'alert-rule-message' });
  const name = h('input', {
    id: 'alert-rule-name',
    name: 'name',
    required: true,
    maxlength: '100',
    autocomplete: 'off',
    'aria-describedby': 'alert-rule-name-hint alert-rule-message',
  });
  const expression = h('input', {
    id: 'alert-rule-expression',
    name: 'expression',
    required: true,
    maxlength: '1000',
    autocomplete: 'off',
    spellcheck: 'false',
    class: 'code-input',
    placeholder: 'rate(http_server_request_duration_seconds_count[5m])',
    'aria-describedby': 'alert-rule-message',
  });
  const comparator = h('select', { id: 'alert-rule-comparator', name: 'comparator' });
  for (const value of COMPARATORS) comparator.appendChild(h('option', { value }, value));
  const threshold = h('input', {
    id: 'alert-rule-threshold',
    name: 'threshold',
    type: 'number',
    step: 'any',
    required: true,
  });
  const forSeconds = h('input', {
    id: 'alert-rule-for',
    name: 'forSeconds',
    type: 'number',
    min: '0',
    max: '86400',
    step: '1',
    value: '0',
    required: true,
  });
  const severity = h('select', { id: 'alert-rule-severity', name: 'severity' });
  for (const value of SEVERITIES)
    severity.appendChild(h('option', { value, selected: value === 'warning' }, value));

  const form = h(
    'form',
    { class: 'alert-form', 'aria-label': 'Create an alert rule' },
    field('Rule name', name, { hint: 'Letters, digits and _, not starting with a digit' }),
    field('Expression', expression, { wide: true }),
    field('Comparator', comparator),
    field('Threshold', threshold),
    field('For (seconds)', forSeconds),
    field('Severity', severity),
    h('div', { class: 'field submit' }, h('button', { type: 'submit', class: 'primary' }, 'Create rule')),
    message,
  );

  let active = true;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    message.textContent = '';
    expression.removeAttribute('aria-invalid');
    client.performance.alerts.create
      .mutate({
        name: name.value,
        expression: expression.value,
        comparator: comparator.value as RuleInput['comparator'],
        threshold: Number(threshold.value),
        forSeconds: Number(forSeconds.value),
        severity: severity.value as RuleInput['severity'],
      })
      .then(async () => {
        name.value = '';
        expression.value = '';
        await created();
      })
      .catch((error) => {
        if (!active) return;
        const text = describeError(error);
        message.textContent = text;
        const position = EXPRESSION_POSITION.exec(text);
        if (position) {
          // Puts the caret on the mistake, so it can be fixed where the message says.
          const at = Math.min(Number(position[1]), expression.value.length);
          expression.setAttribute('aria-invalid', 'true');
          expression.focus();
          expression.setSelectionRange(at, Math.min(at + 1, expression.value.length));
        }
      });
  });
  return {
    form,
    stop: () => {
      active = false;
    },
  };
}
