import type { RouterInputs } from '@beauty-crafter/client';
import { client, describeError } from '../api';
import { field, h } from '../dom';
import { canaryEditor } from './canary-steps';
import { openFormDialog } from './form-dialog';

type CreateInput = RouterInputs['devops']['deployments']['create'];
export type Spec = CreateInput['spec'];
type Deployment = Awaited<ReturnType<typeof client.devops.deployments.list.query>>['items'][number];

/**
 * Provider settings that are secrets: an inline one is shown back redacted, so it is typed again
 * each time; one named from the deployment's environment is shown back as that name.
 */
const SECRET_FIELDS = { webhook: 'secret', kubernetes: 'token' } as const;
type ProviderKind = keyof typeof SECRET_FIELDS;

/** A secret's name as the environment's configuration allows it (shared/devops-environments.ts). */
const SECRET_NAME_PATTERN = '[A-Z][A-Z0-9_]{0,63}';

/**
 * The "Start deployment" form: what to deploy where (service, environment, version), how (canary
 * steps, blue-green or rolling, as the API's spec allows; analysis steps are the API's alone), and
 * through which provider. A provider is a new one or one an earlier deployment used, whose
 * settings are filled in; its secret is typed, or named from the secrets of the environment
 * chosen (sent as `{ environmentSecret: name }`, resolved by the server). An earlier deployment's
 * secret named that way comes back chosen; one typed (redacted in what the server shows) is
 * typed again. Resolves with the new deployment's id.
 */
export function openDeploymentForm(earlier: Deployment[], onStarted: (id: string) => void): void {
  const service = input('deploy-service', {
    required: true,
    pattern: '[a-z][a-z0-9-]{0,62}',
    value: earlier[0]?.service ?? '',
  });
  const environment = h('select', { id: 'deploy-environment', name: 'environment', required: true });
  const provider = providerFields(earlier, environment);
  client.devops.environments.list
    .query()
    .then((environments) => {
      for (const e of environments) environment.appendChild(h('option', { value: e.name }, e.name));
      provider.environmentChanged();
    })
    .catch((error) => {
      environment.appendChild(
        h('option', { value: '', disabled: true }, `Environments not loaded: ${describeError(error)}`),
      );
    });
  const version = input('deploy-version', { required: true });
  const stable = input('deploy-stable-version', {});

  const strategy = h(
    'select',
    { id: 'deploy-strategy', name: 'strategy' },
    h('option', { value: 'canary' }, 'Canary: shift traffic step by step'),
    h('option', { value: 'blueGreen' }, 'Blue-green: switch all traffic at once'),
    h('option', { value: 'rolling' }, 'Rolling: replace replicas in batches'),
  );
  const canary = canaryEditor();
  const blueGreen = blueGreenFields();
  const rolling = rollingFields();
  const strategies = { canary, blueGreen, rolling };
  const showStrategy = () => {
    for (const [name, part] of Object.entries(strategies)) part.element.hidden = name !== strategy.value;
  };
  strategy.addEventListener('change', showStrategy);
  showStrategy();

  openFormDialog({
    title: 'Start deployment',
    fields: [
      field('Service', service),
      field('Environment', environment),
      field('Version', version, { hint: 'An image tag, a digest or a semantic version.' }),
      field('Version serving now', stable, {
        hint: "Only for a service's first deployment here; later ones replace the last promoted version.",
      }),
      field('Strategy', strategy),
      canary.element,
      blueGreen.element,
      rolling.element,
      provider.element,
    ],
    submitLabel: 'Start deployment',
    submit: async () => {
      const created = await client.devops.deployments.create.mutate({
        service: service.value.trim(),
        environment: environment.value,
        version: version.value.trim(),
        ...(stable.value.trim() ? { stableVersion: stable.value.trim() } : {}),
        spec: strategies[strategy.value as keyof typeof strategies].spec(),
        provider: provider.read(),
      });
      onStarted(created.id);
    },
  }).classList.add('wide-dialog');
}

function input(id: string, attributes: Record<string, string | boolean>): HTMLInputElement {
  return h('input', { id, name: id, spellcheck: 'false', autocomplete: 'off', ...attributes });
}

function numberInput(id: string, value: string, min = '0', max?: string): HTMLInputElement {
  return input(id, { type: 'number', min, ...(max ? { max } : {}), step: 'any', value });
}

function blueGreenFields() {
  const autoPromote = input('deploy-auto-promote', { type: 'checkbox', checked: true });
  const delay = numberInput('deploy-scale-down-delay', '30', '0', '86400');
  const element = h(
    'fieldset',
    {},
    h('legend', {}, 'Blue-green'),
    field('Switch traffic as soon as the new version is up (else wait for approval)', autoPromote),
    field('Keep the old version up after the switch (seconds)', delay),
  );
  return {
    element,
    spec: (): Spec => ({
      strategy: 'blueGreen',
      autoPromote: autoPromote.checked,
      scaleDownDelaySeconds: Number(delay.value || 0),
    }),
  };
}

function rollingFields() {
  const replicas = numberInput('deploy-replicas', '3', '1', '1000');
  const surge = numberInput('deploy-max-surge', '1', '0', '1000');
  const unavailable = numberInput('deploy-max-unavailable', '0', '0', '1000');
  const pause = numberInput('deploy-batch-pause', '0', '0', '86400');
  const gate = input('deploy-gate-each-batch', { type: 'checkbox' });
  const element = h(
    'fieldset',
    {},
    h('legend', {}, 'Rolling update'),
    field('Replicas', replicas),
    field('Extra replicas during the update (max surge)', surge),
    field('Replicas that may be down (max unavailable)', unavailable),
    field('Pause between batches (seconds)', pause),
    field('Wait for approval after each batch', gate),
  );
  return {
    element,
    spec: (): Spec => ({
      strategy: 'rolling',
      replicas: Number(replicas.value),
      maxSurge: Number(surge.value),
      maxUnavailable: Number(unavailable.value),
      pauseBetweenBatchesSeconds: Number(pause.value || 0),
      gateEachBatch: gate.checked,
    }),
  };
}

interface SavedProvider {
  label: string;
  kind: ProviderKind;
  config: Record<string, unknown>;
  /** The environment's secret its secret field named; null when the secret was typed. */
  secretName: string | null;
}

/** The name in `{ environmentSecret: name }`, or null for anything else (`[redacted]`, a value). */
function referenceName(value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  const [only] = entries;
  return entries.length === 1 && only?.[0] === 'environmentSecret' && typeof only[1] === 'string'
    ? only[1]
    : null;
}

/** Providers of earlier deployments, each configuration once, newest first. */
function savedProviders(earlier: Deployment[]): SavedProvider[] {
  const seen = new Set<string>();
  const saved: SavedProvider[] = [];
  for (const d of earlier) {
    if (d.provider.kind !== 'webhook' && d.provider.kind !== 'kubernetes') continue;
    const kind = d.provider.kind;
    const secretName = referenceName(d.provider.config[SECRET_FIELDS[kind]]);
    // A secret typed comes back redacted: it is typed again, never sent back as "[redacted]". One
    // named from the environment comes back as its name, which the form shows chosen; other
    // fields holding such a name are kept and sent back as they are.
    const config = Object.fromEntries(
      Object.entries(d.provider.config).filter(
        ([name, value]) => name !== SECRET_FIELDS[kind] && value !== '[redacted]',
      ),
    );
    const key = `${kind} ${JSON.stringify(config)} ${secretName ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const where = kind === 'webhook' ? config.url : `${config.namespace}/${config.name}`;
    const from = secretName ? `, secret ${secretName} of the environment` : '';
    saved.push({
      label: `${kind} ${String(where)}${from} (as ${d.service} → ${d.environment})`,
      kind,
      config,
      secretName,
    });
  }
  return saved;
}

/**
 * A provider's secret: typed here, or the name of a secret of the environment chosen in the form,
 * sent as `{ environmentSecret: name }`. The name is free text offered the environment's secret
 * names (`names`), so it can be given even when they cannot be loaded.
 */
function secretChoice(
  id: string,
  labels: { source: string; typed: string; name: string },
  typed: HTMLInputElement,
  typedHint: string,
  names: HTMLDataListElement,
) {
  const source = h(
    'select',
    { id: `${id}-source`, name: `${id}-source` },
    h('option', { value: 'typed' }, 'Typed here'),
    h('option', { value: 'environment' }, 'A secret of the environment'),
  );
  const name = input(`${id}-name`, {
    list: names.id,
    pattern: SECRET_NAME_PATTERN,
    placeholder: 'DEPLOY_WEBHOOK_SECRET',
  });
  const sourceField = field(labels.source, source);
  const typedField = field(labels.typed, typed, { hint: typedHint });
  const nameField = field(labels.name, name, { hint: 'One of the secrets of the environment chosen above.' });
  const status = nameField.querySelector('small');
  const fromEnvironment = () => source.value === 'environment';
  let active = false;
  // Hidden controls are disabled too: a half-typed secret left behind must not block the form.
  const update = () => {
    typedField.hidden = fromEnvironment();
    nameField.hidden = !fromEnvironment();
    typed.disabled = !active || fromEnvironment();
    name.disabled = !active || !fromEnvironment();
    typed.required = active && !fromEnvironment();
    name.required = active && fromEnvironment();
  };
  source.addEventListener('change', update);
  return {
    elements: [sourceField, typedField, nameField],
    source,
    /** Whether the environment's secret names are wanted now. */
    wantsNames: () => active && fromEnvironment(),
    /** Shown (and required) or not, with the provider it belongs to. */
    setActive(shown: boolean) {
      active = shown;
      update();
    },
    /** Typed afresh, or the environment's secret `secretName` chosen. */
    reset(secretName: string | null) {
      source.value = secretName ? 'environment' : 'typed';
      name.value = secretName ?? '';
      typed.value = '';
      update();
    },
    setStatus(text: string) {
      if (status) status.textContent = text;
    },
    read: (): string | { environmentSecret: string } =>
      fromEnvironment() ? { environmentSecret: name.value.trim() } : typed.value,
  };
}

/**
 * The provider: a saved configuration or a new webhook or Kubernetes one, its settings as fields
 * (the secret typed again, unless it was named from the environment), and the settings the form
 * does not show kept as they were saved. `environment` is the form's: the secret names offered
 * are its secrets'.
 */
function providerFields(earlier: Deployment[], environment: HTMLSelectElement) {
  const saved = savedProviders(earlier);
  const choice = h(
    'select',
    { id: 'deploy-provider', name: 'provider' },
    ...saved.map((s, index) => h('option', { value: String(index) }, s.label)),
    h('option', { value: 'webhook' }, 'New webhook provider'),
    h('option', { value: 'kubernetes' }, 'New Kubernetes provider'),
  );
  const url = input('provider-url', { type: 'url', placeholder: 'https://traffic.example.com/hooks/deploy' });
  const names = h('datalist', { id: 'provider-environment-secrets' });
  const secret = secretChoice(
    'provider-secret',
    { source: 'Secret from', typed: 'Signing secret', name: 'Name of the secret' },
    input('provider-secret', { type: 'password', minlength: '16' }),
    'At least 16 characters; shared with the receiver. Never shown back.',
    names,
  );
  const apiUrl = input('provider-api-url', {
    type: 'url',
    placeholder: 'https://kubernetes.example.com:6443',
  });
  const token = secretChoice(
    'provider-token',
    { source: 'Token from', typed: 'Service account token', name: 'Name of the token secret' },
    input('provider-token', { type: 'password' }),
    'Never shown back.',
    names,
  );
  const namespace = input('provider-namespace', { placeholder: 'default' });
  const name = input('provider-name', { placeholder: 'shop' });
  const mode = h(
    'select',
    { id: 'provider-mode', name: 'mode' },
    h('option', { value: 'deployment' }, 'Deployment'),
    h('option', { value: 'argoRollout' }, 'Argo Rollout'),
  );
  const targets = h('textarea', {
    id: 'provider-metrics-targets',
    name: 'metricsTargets',
    rows: '2',
    spellcheck: 'false',
    placeholder: 'https://basket-canary.internal:9464/metrics',
  });
  const webhook = h('div', {}, field('Webhook URL', url), ...secret.elements);
  const kubernetes = h(
    'div',
    {},
    field('API server URL', apiUrl),
    ...token.elements,
    field('Namespace', namespace),
    field('Deployment or Rollout name', name),
    field('Kind of object', mode),
  );
  const kindNow = (): ProviderKind =>
    choice.value === 'webhook' || choice.value === 'kubernetes'
      ? choice.value
      : (saved[Number(choice.value)]?.kind ?? 'webhook');

  // The secret names of the environment chosen, loaded when they are wanted: the choice shown, or
  // the environment changed. Only the latest answer counts.
  let loading = '';
  const loadNames = () => {
    if (!secret.wantsNames() && !token.wantsNames()) return;
    const from = environment.value;
    const say = (text: string) => {
      secret.setStatus(text);
      token.setStatus(text);
    };
    loading = from;
    names.replaceChildren();
    if (!from) {
      say('Choose the environment above, then one of its secrets (or type its name).');
      return;
    }
    say(`Loading the secrets of ${from}…`);
    client.devops.environments.get
      .query({ name: from })
      .then((found) => {
        if (loading !== from) return;
        const secretNames = Object.keys(found.current.secrets).sort();
        names.replaceChildren(...secretNames.map((n) => h('option', { value: n })));
        say(
          secretNames.length > 0
            ? `Secrets of ${from}: ${secretNames.join(', ')}.`
            : `${from} has no secrets yet: add one on the Environments page.`,
        );
      })
      .catch((error) => {
        if (loading !== from) return;
        say(`The secrets of ${from} could not be loaded (${describeError(error)}): type the name.`);
      });
  };
  environment.addEventListener('change', loadNames);
  for (const part of [secret, token]) part.source.addEventListener('change', loadNames);

  let kept: Record<string, unknown> = {};
  const fill = () => {
    const picked = saved[Number(choice.value)];
    kept = picked ? { ...picked.config } : {};
    const text = (key: string) => (typeof kept[key] === 'string' ? (kept[key] as string) : '');
    url.value = text('url');
    apiUrl.value = text('apiUrl');
    namespace.value = text('namespace');
    name.value = text('name');
    targets.value = Array.isArray(kept.metricsTargets) ? kept.metricsTargets.join('\n') : '';
    mode.value = text('mode') || 'deployment';
    const kind = kindNow();
    webhook.hidden = kind !== 'webhook';
    kubernetes.hidden = kind !== 'kubernetes';
    url.required = kind === 'webhook';
    for (const control of [apiUrl, namespace, name]) control.required = kind === 'kubernetes';
    secret.setActive(kind === 'webhook');
    token.setActive(kind === 'kubernetes');
    secret.reset(picked?.kind === 'webhook' ? picked.secretName : null);
    token.reset(picked?.kind === 'kubernetes' ? picked.secretName : null);
    loadNames();
  };
  choice.addEventListener('change', fill);
  fill();
  const element = h(
    'fieldset',
    {},
    h('legend', {}, 'Provider: what moves the traffic'),
    field('Configuration', choice, {
      hint: 'One an earlier deployment used (its secret typed again, unless it named a secret of the environment), or a new one.',
    }),
    webhook,
    kubernetes,
    names,
    field('Metrics of the new version (one /metrics URL a line)', targets, {
      hint: 'What analysis steps measure when the platform has no Prometheus; empty otherwise.',
      wide: true,
    }),
  );
  return {
    element,
    /** The form's environment list arrived (no change event for that): offer its secrets. */
    environmentChanged: loadNames,
    read(): CreateInput['provider'] {
      const kind = kindNow();
      const urls = targets.value
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);
      // Settings of a saved configuration the form does not show are kept; metricsTargets is shown.
      const { metricsTargets: _shown, ...others } = kept;
      const config: Record<string, unknown> =
        kind === 'webhook'
          ? { ...others, url: url.value.trim(), secret: secret.read() }
          : {
              ...others,
              apiUrl: apiUrl.value.trim(),
              token: token.read(),
              namespace: namespace.value.trim(),
              name: name.value.trim(),
              mode: mode.value,
            };
      const withTargets = urls.length > 0 ? { ...config, metricsTargets: urls } : config;
      return { kind, config: withTargets as CreateInput['provider']['config'] };
    },
  };
}
