import { setTimeout as delay } from 'node:timers/promises';
import {
  type OutboundPolicy,
  OutboundRefusedError,
  outboundRequest,
  parseOutboundUrl,
} from '../../base/outbound/index';
import type { DeploymentProvider, DeploymentTarget } from './contracts';

export interface KubernetesProviderOptions {
  /** The API server, e.g. https://kubernetes.default.svc. */
  apiUrl: string;
  /** A service account's bearer token. Sent to the API server only; never logged. */
  token: string;
  namespace: string;
  /** PEM of the CA that signed the API server's certificate (in a pod: the service account's ca.crt). */
  caCert?: string;
  /**
   * 'deployment': plain apps/v1 Deployments; rolling updates one Deployment `<name>`, canary and
   * blue-green drive two, `<name>-stable` and `<name>-canary`. 'argoRollout': one argoproj.io
   * Rollout `<name>`, whose controller does the rest.
   */
  mode: 'deployment' | 'argoRollout';
  /** Bound on one API request. */
  timeoutMs: number;
  /** The workload's name; else the deployment's `providerConfig.name`; else its service. */
  name?: string;
  /** The container to set the image of (default: the pod template's first container). */
  container?: string;
  /** The image repository; the version is its tag (default: the container's current image, re-tagged). */
  image?: string;
  /** Rolling updates' surge and unavailability (Deployment strategy.rollingUpdate; default 25% and 0). */
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  /** How long to wait for replicas to become updated and available (default 10 minutes). */
  rolloutTimeoutMs?: number;
  /** How often to read the status while waiting (default 1 s). */
  pollIntervalMs?: number;
  /**
   * Where `apiUrl` may point (purpose kubernetes). In a cluster the API server is a private
   * address (kubernetes.default.svc): OUTBOUND_ALLOW_KUBERNETES names it.
   */
  outbound: OutboundPolicy;
}

/**
 * An API server's refusal, with its HTTP status and the Status object's reason (Conflict, NotFound...).
 * Its message says only these: the Status message and any other text of the answer stay here.
 */
export class KubernetesApiError extends Error {
  override name = 'KubernetesApiError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

// Kubernetes objects are read loosely: only the fields used here are typed.
interface Container {
  name: string;
  image: string;
  [field: string]: unknown;
}
interface Workload {
  metadata: {
    name: string;
    resourceVersion: string;
    generation?: number;
    annotations?: Record<string, string>;
  };
  spec: {
    replicas?: number;
    paused?: boolean;
    template: { spec: { containers: Container[] } };
    strategy?: { canary?: unknown; blueGreen?: unknown; [field: string]: unknown };
  };
  status?: {
    observedGeneration?: number | string;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    // Argo Rollouts
    abort?: boolean;
    currentPodHash?: string;
    stableRS?: string;
  };
}
type Patch = Record<string, unknown>;

/** Where the total replica count of a canary pair is kept while the stable Deployment is scaled down. */
export const REPLICAS_ANNOTATION = 'deployments.beauty-crafter.io/replicas';
const CONFLICT_RETRIES = 5;
// https://github.com/distribution/reference/blob/main/regexp.go: a tag is at most 128 of these.
const IMAGE_TAG = /^[\w][\w.-]{0,127}$/;

/**
 * Moves versions and traffic through the Kubernetes REST API. Every change is a read, then a JSON
 * merge patch (RFC 7386) carrying the resourceVersion read: the API server refuses it with 409
 * Conflict if someone else wrote the object in between, and the provider reads again and
 * recomputes (optimistic concurrency, as `kubectl` does). A change already in place is not sent
 * again, so every call can be repeated.
 * https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply
 */
export class KubernetesProvider implements DeploymentProvider {
  readonly kind = 'kubernetes';
  private readonly base: URL;

  constructor(private readonly options: KubernetesProviderOptions) {
    this.base = parseOutboundUrl(options.apiUrl, 'kubernetes', options.outbound);
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(options.namespace)) throw new Error('invalid namespace');
  }

  async prepare(target: DeploymentTarget): Promise<void> {
    const image = (w: Workload) => this.imageFor(w, target.version);
    if (this.options.mode === 'argoRollout') {
      await this.update(this.rolloutPath(target), (ro) => {
        const patch: Patch = { spec: { template: { spec: { containers: this.withImage(ro, image(ro)) } } } };
        // The engine owns the steps: the Rollout waits at weight 0 (canary) or before switching
        // (blue-green, autoPromotionEnabled: false) until the engine moves it.
        if (ro.spec.strategy?.canary) setIn(patch, ['spec', 'strategy', 'canary', 'steps'], canarySteps(0));
        else setIn(patch, ['spec', 'strategy', 'blueGreen', 'autoPromotionEnabled'], false);
        return differs(ro, patch) ? patch : null;
      });
      return;
    }
    if (target.strategy === 'rolling') {
      // A paused Deployment does not roll out template changes: the new image waits for scale().
      // https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#pausing-and-resuming-a-deployment
      await this.update(this.deploymentPath(this.nameOf(target)), (d) =>
        diff(d, {
          spec: {
            paused: true,
            strategy: {
              type: 'RollingUpdate',
              rollingUpdate: {
                maxSurge: this.options.maxSurge ?? '25%',
                maxUnavailable: this.options.maxUnavailable ?? 0,
              },
            },
            template: { spec: { containers: this.withImage(d, image(d)) } },
          },
        }),
      );
      return;
    }
    const total = await this.totalReplicas(target);
    // Blue-green: the preview runs at full size, without traffic until promote; canary: at 0 until a weight.
    const replicas = target.strategy === 'blueGreen' ? total : 0;
    const canaryName = `${this.nameOf(target)}-canary`;
    await this.update(this.deploymentPath(canaryName), (d) =>
      diff(d, { spec: { replicas, template: { spec: { containers: this.withImage(d, image(d)) } } } }),
    );
    if (replicas > 0) await this.waitForRollout(canaryName);
  }

  async setWeight(target: DeploymentTarget, weight: number): Promise<void> {
    if (!Number.isFinite(weight) || weight < 0 || weight > 100) {
      throw new Error(`a weight is a percentage from 0 to 100, not ${weight}`);
    }
    if (this.options.mode === 'argoRollout') {
      await this.update(this.rolloutPath(target), (ro) => {
        if (!ro.spec.strategy?.canary) {
          throw new Error('the Rollout is blue-green: it switches all traffic at promote, not by weight');
        }
        // Changing the steps of a progressing canary makes the controller restart them ("If the
        // canary steps change during a progressing canary update, the controller will change the
        // hash and restart the steps", Argo Rollouts v0.4.0 release notes): it sets this weight
        // and then waits at the indefinite pause for the engine's next call.
        return diff(ro, { spec: { strategy: { canary: { steps: canarySteps(weight) } } } });
      });
      return;
    }
    if (target.strategy === 'rolling') {
      throw new Error('a rolling deployment moves by scale(), not by weight');
    }
    // Without a traffic router a Service spreads requests over pods: the weight is the share of
    // pods, as Argo Rollouts' basic canary does (stable scaled down by what the canary adds).
    const total = await this.totalReplicas(target);
    const canaryReplicas =
      weight === 0 ? 0 : Math.min(total, Math.max(1, Math.round((total * weight) / 100)));
    await this.scalePair(target, { canary: canaryReplicas, stable: total - canaryReplicas });
  }

  async scale(target: DeploymentTarget, progress: { updated: number; total: number }): Promise<void> {
    const { updated, total } = progress;
    if (!(total > 0) || updated < 0 || updated > total)
      throw new Error(`invalid progress ${updated}/${total}`);
    if (this.options.mode === 'argoRollout' || target.strategy !== 'rolling') {
      await this.setWeight(target, Math.round((updated / total) * 100));
      return;
    }
    const name = this.nameOf(target);
    const path = this.deploymentPath(name);
    const deployment = await this.update(path, (d) => diff(d, { spec: { paused: false } }));
    const replicas = deployment.spec.replicas ?? 1;
    if (updated >= total) {
      await this.waitForRollout(name);
      return;
    }
    const wanted = Math.ceil((updated / total) * replicas);
    await this.waitFor(
      name,
      (d) => observed(d) && (d.status?.updatedReplicas ?? 0) >= wanted,
      `${wanted} updated replicas`,
    );
    // The batch is out: hold the rest until the engine's next step (pods being replaced finish).
    await this.update(path, (d) => diff(d, { spec: { paused: true } }));
  }

  async promote(target: DeploymentTarget): Promise<void> {
    if (this.options.mode === 'argoRollout') {
      const path = this.rolloutPath(target);
      const ro = await this.observedRollout(path);
      // `kubectl argo rollouts promote --full` patches {"status":{"promoteFull":true}} through the
      // status subresource, only while the current pod hash is not yet the stable one
      // (argo-rollouts pkg/kubectl-argo-rollouts/cmd/promote/promote.go).
      if (ro.status?.currentPodHash !== ro.status?.stableRS) {
        await this.patchStatus(path, { status: { promoteFull: true } });
      }
      await this.waitFor(
        path,
        (r) => r.status?.currentPodHash !== undefined && r.status.currentPodHash === r.status.stableRS,
        'the new version to become stable',
      );
      return;
    }
    if (target.strategy === 'rolling') {
      await this.update(this.deploymentPath(this.nameOf(target)), (d) =>
        diff(d, { spec: { paused: false } }),
      );
      await this.waitForRollout(this.nameOf(target));
      return;
    }
    const total = await this.totalReplicas(target);
    const stableName = `${this.nameOf(target)}-stable`;
    await this.update(this.deploymentPath(stableName), (d) =>
      diff(d, {
        spec: {
          replicas: total,
          template: { spec: { containers: this.withImage(d, this.imageFor(d, target.version)) } },
        },
      }),
    );
    // The stable Deployment serves the new version at full size before the canary goes away.
    await this.waitForRollout(stableName);
    await this.update(this.deploymentPath(`${this.nameOf(target)}-canary`), (d) =>
      diff(d, { spec: { replicas: 0 } }),
    );
  }

  async rollback(target: DeploymentTarget): Promise<void> {
    if (this.options.mode === 'argoRollout') {
      const path = this.rolloutPath(target);
      const ro = await this.observedRollout(path);
      const reverted =
        target.stableVersion !== null && this.currentImage(ro) === this.imageFor(ro, target.stableVersion);
      if (reverted && ro.status?.currentPodHash === ro.status?.stableRS) return;
      // `kubectl argo rollouts abort` patches {"status":{"abort":true}} through the status
      // subresource (cmd/abort/abort.go): traffic returns to the stable ReplicaSet at once.
      if (!ro.status?.abort && !reverted) await this.patchStatus(path, { status: { abort: true } });
      // "Updating the 'spec.template' back to the previous version will fully revert the rollout"
      // (kubectl argo rollouts abort, its documentation); otherwise it would retry the new version.
      const stable = target.stableVersion;
      if (stable !== null) {
        await this.update(path, (r) =>
          diff(r, {
            spec: { template: { spec: { containers: this.withImage(r, this.imageFor(r, stable)) } } },
          }),
        );
      }
      return;
    }
    if (target.strategy === 'rolling') {
      if (target.stableVersion === null)
        throw new Error('a first deployment has no earlier version to roll back to');
      const stable = target.stableVersion;
      await this.update(this.deploymentPath(this.nameOf(target)), (d) =>
        diff(d, {
          spec: {
            paused: false,
            template: { spec: { containers: this.withImage(d, this.imageFor(d, stable)) } },
          },
        }),
      );
      await this.waitForRollout(this.nameOf(target));
      return;
    }
    const total = await this.totalReplicas(target);
    const stable = target.stableVersion;
    // A promote that stopped half-way may have re-imaged the stable Deployment: put the stable version back.
    await this.update(this.deploymentPath(`${this.nameOf(target)}-stable`), (d) =>
      diff(d, {
        spec: {
          replicas: total,
          ...(stable !== null && {
            template: { spec: { containers: this.withImage(d, this.imageFor(d, stable)) } },
          }),
        },
      }),
    );
    await this.waitForRollout(`${this.nameOf(target)}-stable`);
    await this.update(this.deploymentPath(`${this.nameOf(target)}-canary`), (d) =>
      diff(d, { spec: { replicas: 0 } }),
    );
  }

  /** Moves a canary pair, growing one side before shrinking the other so capacity never dips. */
  private async scalePair(target: DeploymentTarget, want: { canary: number; stable: number }): Promise<void> {
    const name = this.nameOf(target);
    const canary = await this.get(this.deploymentPath(`${name}-canary`));
    const order: ['canary' | 'stable', number][] =
      (canary.spec.replicas ?? 0) < want.canary
        ? [
            ['canary', want.canary],
            ['stable', want.stable],
          ]
        : [
            ['stable', want.stable],
            ['canary', want.canary],
          ];
    for (const [side, replicas] of order) {
      await this.update(this.deploymentPath(`${name}-${side}`), (d) => diff(d, { spec: { replicas } }));
      await this.waitForRollout(`${name}-${side}`);
    }
  }

  /** The canary pair's size: recorded on the stable Deployment the first time, before it is ever scaled down. */
  private async totalReplicas(target: DeploymentTarget): Promise<number> {
    const stable = await this.update(this.deploymentPath(`${this.nameOf(target)}-stable`), (d) =>
      d.metadata.annotations?.[REPLICAS_ANNOTATION] !== undefined
        ? null
        : { metadata: { annotations: { [REPLICAS_ANNOTATION]: String(d.spec.replicas ?? 1) } } },
    );
    const total = Number(stable.metadata.annotations?.[REPLICAS_ANNOTATION]);
    if (!Number.isInteger(total) || total < 1)
      throw new Error(`the ${REPLICAS_ANNOTATION} annotation is not a replica count`);
    return total;
  }

  private nameOf(target: DeploymentTarget): string {
    const configured = target.providerConfig.name;
    const name = this.options.name ?? (typeof configured === 'string' ? configured : target.service);
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.length > 240) {
      throw new Error(`'${name}' is not a Kubernetes object name`);
    }
    return name;
  }

  private deploymentPath(name: string): string {
    return `/apis/apps/v1/namespaces/${this.options.namespace}/deployments/${encodeURIComponent(name)}`;
  }

  private rolloutPath(target: DeploymentTarget): string {
    return `/apis/argoproj.io/v1alpha1/namespaces/${this.options.namespace}/rollouts/${encodeURIComponent(this.nameOf(target))}`;
  }

  private container(workload: Workload): Container {
    const containers = workload.spec.template.spec.containers;
    const wanted = this.options.container;
    const found = wanted === undefined ? containers[0] : containers.find((c) => c.name === wanted);
    if (!found) throw new Error(`the workload has no container ${wanted ?? ''}`.trim());
    return found;
  }

  private currentImage(workload: Workload): string {
    return this.container(workload).image;
  }

  /** The image reference for `version`: the configured repository, or the current image's, with the version as tag. */
  private imageFor(workload: Workload, version: string): string {
    if (!IMAGE_TAG.test(version)) throw new Error(`'${version}' cannot be an image tag`);
    const repository = this.options.image ?? repositoryOf(this.currentImage(workload));
    return `${repository}:${version}`;
  }

  /**
   * The whole containers list with one image changed: a merge patch replaces lists whole, and the
   * resourceVersion it carries guarantees this list is the one on the server.
   */
  private withImage(workload: Workload, image: string): Container[] {
    const chosen = this.container(workload);
    return workload.spec.template.spec.containers.map((c) => (c === chosen ? { ...c, image } : c));
  }

  /** Read, compute a patch (null: nothing to change), patch with the resourceVersion read; again on 409. */
  private async update(path: string, change: (current: Workload) => Patch | null): Promise<Workload> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.get(path);
      const patch = change(current);
      if (patch === null) return current;
      setIn(patch, ['metadata', 'resourceVersion'], current.metadata.resourceVersion);
      try {
        return (await this.request('PATCH', path, patch)) as Workload;
      } catch (error) {
        if (!(error instanceof KubernetesApiError && error.status === 409) || attempt >= CONFLICT_RETRIES)
          throw error;
        await delay(Math.round(Math.random() * 50 * 2 ** attempt));
      }
    }
  }

  /**
   * Patches the status subresource, or, where the CRD has none (Argo Rollouts before v0.10), the
   * object itself, exactly as the kubectl plugin does on NotFound (cmd/promote/promote.go).
   */
  private async patchStatus(path: string, patch: Patch): Promise<void> {
    try {
      await this.request('PATCH', `${path}/status`, patch);
    } catch (error) {
      if (!(error instanceof KubernetesApiError && error.status === 404)) throw error;
      await this.request('PATCH', path, patch);
    }
  }

  /**
   * The Rollout once its controller has seen the latest spec (status.observedGeneration, the
   * generation as a string): before that, currentPodHash still describes the previous template.
   */
  private observedRollout(path: string): Promise<Workload> {
    return this.waitFor(path, observed, 'the controller to observe the latest spec');
  }

  private get(path: string): Promise<Workload> {
    return this.request('GET', path) as Promise<Workload>;
  }

  /** Waits like `kubectl rollout status`: observed, all replicas updated and available, no old pods left. */
  private waitForRollout(name: string): Promise<Workload> {
    return this.waitFor(
      name,
      (d) => {
        const replicas = d.spec.replicas ?? 1;
        const s = d.status ?? {};
        return (
          observed(d) &&
          (s.updatedReplicas ?? 0) === replicas &&
          (s.replicas ?? 0) === replicas &&
          (s.availableReplicas ?? 0) === replicas
        );
      },
      'all replicas updated and available',
    );
  }

  private async waitFor(nameOrPath: string, done: (w: Workload) => boolean, what: string): Promise<Workload> {
    const path = nameOrPath.startsWith('/') ? nameOrPath : this.deploymentPath(nameOrPath);
    const deadline = Date.now() + (this.options.rolloutTimeoutMs ?? 600_000);
    for (;;) {
      const workload = await this.get(path);
      if (done(workload)) return workload;
      // The Deployment controller gives up after progressDeadlineSeconds and says so in a condition.
      const stuck = workload.status?.conditions?.find(
        (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
      );
      // Named by the path we asked for, never by text from the answer (a condition's message).
      const name = decodeURIComponent(path.slice(path.lastIndexOf('/') + 1));
      if (stuck) throw new Error(`${name} is not progressing: ProgressDeadlineExceeded`);
      if (Date.now() > deadline)
        throw new Error(`${name} did not reach ${what} in time (${progressOf(workload)})`);
      await delay(this.options.pollIntervalMs ?? 1_000);
    }
  }

  private async request(method: 'GET' | 'PATCH', path: string, body?: Patch): Promise<unknown> {
    const url = new URL(`${this.base.pathname.replace(/\/$/, '')}${path}`, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let response: Awaited<ReturnType<typeof outboundRequest>>;
    try {
      response = await outboundRequest(url, 'kubernetes', this.options.outbound, {
        method,
        body: payload,
        timeoutMs: this.options.timeoutMs,
        // etcd keeps objects up to 1.5 MiB; their JSON is somewhat larger.
        maxBytes: 4 * 1024 * 1024,
        ca: url.protocol === 'https:' ? this.options.caCert : undefined,
        headers: {
          accept: 'application/json',
          authorization: `Bearer ${this.options.token}`,
          'user-agent': 'beauty-crafter-platform-deployments',
          ...(payload !== undefined && { 'content-type': 'application/merge-patch+json' }),
        },
      });
    } catch (error) {
      if (error instanceof OutboundRefusedError)
        throw new Error(`Kubernetes API ${method} ${path}: ${error.message}`);
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.body.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const { status } = response;
    if (status >= 200 && status < 300 && parsed !== undefined) return parsed;
    // The Status object's reason is one of a closed set; its message is the API server's prose.
    const claimed = (parsed as { reason?: unknown } | undefined)?.reason;
    const reason = typeof claimed === 'string' && STATUS_REASONS.has(claimed) ? claimed : 'Unknown';
    throw new KubernetesApiError(
      status,
      reason,
      `Kubernetes API ${method} ${path}: ${status}${reason === 'Unknown' ? '' : ` ${reason}`}`,
    );
  }
}

// metav1.StatusReason (k8s.io/apimachinery/pkg/apis/meta/v1/types.go).
const STATUS_REASONS: ReadonlySet<string> = new Set([
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'AlreadyExists',
  'Conflict',
  'Gone',
  'Invalid',
  'ServerTimeout',
  'StoreReadError',
  'Timeout',
  'TooManyRequests',
  'BadRequest',
  'MethodNotAllowed',
  'NotAcceptable',
  'RequestEntityTooLarge',
  'UnsupportedMediaType',
  'InternalError',
  'Expired',
  'ServiceUnavailable',
]);

/** Where a rollout stands, in numbers only. */
function progressOf(workload: Workload): string {
  const s = workload.status ?? {};
  const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) ? n : 0);
  return `replicas ${count(s.replicas)}, updated ${count(s.updatedReplicas)}, available ${count(s.availableReplicas)} of ${count(workload.spec.replicas ?? 1)}`;
}

/** A canary plan of one weight, then an indefinite pause (`pause: {}`) that only a new plan or promote ends. */
function canarySteps(weight: number): unknown[] {
  return [{ setWeight: weight }, { pause: {} }];
}

function observed(d: Workload): boolean {
  return Number(d.status?.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** The patch, or null when the object already holds everything it sets. */
function diff(current: Workload, patch: Patch): Patch | null {
  return differs(current, patch) ? patch : null;
}

function differs(current: unknown, patch: unknown): boolean {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    return JSON.stringify(current) !== JSON.stringify(patch);
  }
  if (current === null || typeof current !== 'object') return true;
  return Object.entries(patch).some(([key, value]) =>
    differs((current as Record<string, unknown>)[key], value),
  );
}

function setIn(target: Patch, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Patch;
  }
  node[path[path.length - 1] as string] = value;
}

/** `registry:5000/team/app:1.2@sha256:…` → `registry:5000/team/app` (a port's colon is before the last slash). */
function repositoryOf(image: string): string {
  const withoutDigest = image.split('@')[0] as string;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}
