import type { RouterInputs } from '@beauty-crafter/client';
import { client, describeError } from '../api';
import { field, h } from '../dom';
import { canaryEditor } from './canary-steps';
import { openFormDialog } from './form-dialog';

type CreateInput = RouterInputs['devops']['deployments']['create'];
export type Spec = CreateInput['spec'];
type Deployment = Awaited<ReturnType<typeof client.devops.deployments.list.query>>['items'][number];

/** Provider settings that are secrets: shown back redacted, so they are typed again each time. */
const SECRET_FIELDS = { webhook: 'secret', kubernetes: 'token' } as const;
type ProviderKind = keyof typeof SECRET_FIELDS;

/**
 * The "Start deployment" form: what to deploy where (service, environment, version), how (canary
 * steps, blue-green or rolling, as the API's spec allows; analysis steps are the API's alone), and
 * through which provider. A provider is a new one or one an earlier deployment used, whose
 * settings are filled in; its secret (redacted in what the server shows) is typed again. Resolves
 * with the new deployment's id.
 */
export function openDeploymentForm(earlier: Deployment[], onStarted: (id: string) => void): void {
  const service = input('deploy-service', {
    required: true,
    pattern: '[a-z][a-z0-9-]{0,62}',
    value: earlier[0]?.service ?? '',
  });
  const environment = h('select', { id: 'deploy-environment', name: 'environment', required: true });
  client.devops.environments.list
    .query()
    .then((environments) => {
      for (const e of environments) environment.appendChild(h('option', { value: e.name }, e.name));
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

  const provider = providerFields(earlier);

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
}

/** Providers of earlier deployments, each configuration once, newest first. */
function savedProviders(earlier: Deployment[]): SavedProvider[] {
  const seen = new Set<string>();
  const saved: SavedProvider[] = [];
  for (const d of earlier) {
    if (d.provider.kind !== 'webhook' && d.provider.kind !== 'kubernetes') continue;
    const kind = d.provider.kind;
    // Secrets come back redacted: they are typed again, never sent back as "[redacted]".
    const config = Object.fromEntries(
      Object.entries(d.provider.config).filter(
        ([name, value]) => name !== SECRET_FIELDS[kind] && value !== '[redacted]',
      ),
    );
    const key = `${kind} ${JSON.stringify(config)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const where = kind === 'webhook' ? config.url : `${config.namespace}/${config.name}`;
    saved.push({ label: `${kind} ${String(where)} (as ${d.service} → ${d.environment})`, kind, config });
  }
  return saved;
}

/**
 * The provider: a saved configuration or a new webhook or Kubernetes one, its settings as fields
 * (the secret typed again), and the settings the form does not show kept as they were saved.
 */
function providerFields(earlier: Deployment[]) {
  const saved = savedProviders(earlier);
  const choice = h(
    'select',
    { id: 'deploy-provider', name: 'provider' },
    ...saved.map((s, index) => h('option', { value: String(index) }, s.label)),
    h('option', { value: 'webhook' }, 'New webhook provider'),
    h('option', { value: 'kubernetes' }, 'New Kubernetes provider'),
  );
  const url = input('provider-url', { type: 'url', placeholder: 'https://traffic.example.com/hooks/deploy' });
  const secret = input('provider-secret', { type: 'password', minlength: '16' });
  const apiUrl = input('provider-api-url', {
    type: 'url',
    placeholder: 'https://kubernetes.example.com:6443',
  });
  const token = input('provider-token', { type: 'password' });
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
  const webhook = h(
    'div',
    {},
    field('Webhook URL', url),
    field('Signing secret', secret, {
      hint: 'At least 16 characters; shared with the receiver. Never shown back.',
    }),
  );
  const kubernetes = h(
    'div',
    {},
    field('API server URL', apiUrl),
    field('Service account token', token, { hint: 'Never shown back.' }),
    field('Namespace', namespace),
    field('Deployment or Rollout name', name),
    field('Kind of object', mode),
  );
  let kept: Record<string, unknown> = {};
  const kindNow = (): ProviderKind =>
    choice.value === 'webhook' || choice.value === 'kubernetes'
      ? choice.value
      : (saved[Number(choice.value)]?.kind ?? 'webhook');
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
    secret.value = '';
    token.value = '';
    const kind = kindNow();
    webhook.hidden = kind !== 'webhook';
    kubernetes.hidden = kind !== 'kubernetes';
    for (const control of [url, secret]) control.required = kind === 'webhook';
    for (const control of [apiUrl, token, namespace, name]) control.required = kind === 'kubernetes';
  };
  choice.addEventListener('change', fill);
  fill();
  const element = h(
    'fieldset',
    {},
    h('legend', {}, 'Provider: what moves the traffic'),
    field('Configuration', choice, {
      hint: 'One an earlier deployment used (type its secret again), or a new one.',
    }),
    webhook,
    kubernetes,
    field('Metrics of the new version (one /metrics URL a line)', targets, {
      hint: 'What analysis steps measure when the platform has no Prometheus; empty otherwise.',
      wide: true,
    }),
  );
  return {
    element,
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
          ? { ...others, url: url.value.trim(), secret: secret.value }
          : {
              ...others,
              apiUrl: apiUrl.value.trim(),
              token: token.value,
              namespace: namespace.value.trim(),
              name: name.value.trim(),
              mode: mode.value,
            };
      const withTargets = urls.length > 0 ? { ...config, metricsTargets: urls } : config;
      return { kind, config: withTargets as CreateInput['provider']['config'] };
    },
  };
}
