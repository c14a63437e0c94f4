import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server implementing exactly the Kubernetes API endpoints the Kubernetes provider
 * uses, with the API server's rules that matter to it:
 *
 *   GET|PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}
 *   GET|PATCH /apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}
 *   PATCH     /apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}/status
 *
 * - Bearer token required (401 otherwise); PATCH only as application/merge-patch+json (RFC 7386;
 *   415 otherwise), applied recursively with null deleting a field and lists replaced whole.
 * - A patch carrying metadata.resourceVersion is a precondition: 409 Conflict when the object has
 *   moved on. Every write gives a new resourceVersion; a spec change a new metadata.generation.
 * - Status subresource: a patch of the object ignores `status`; a patch of /status changes only
 *   `status` (or, with `rolloutStatusSubresource: false`, /status is 404 as for Argo Rollouts
 *   before v0.10, and the object's patch takes `status` too).
 * - A tiny controller, on a timer: a Deployment's status follows its spec (one more updated replica
 *   per tick while not paused; a new template starts over at 0), and a Rollout's currentPodHash
 *   follows its template, its stableRS following on first sight and on status.promoteFull, and
 *   status.abort ending once the template is back on the stable hash.
 */
export interface FakeKubernetes {
  url: string;
  /** Every request, in order. */
  requests: RecordedRequest[];
  /** Creates or replaces an object (namespace and name from its metadata). */
  put(kind: Kind, object: Record<string, unknown>): void;
  /** A copy of an object as the server holds it. */
  get(kind: Kind, namespace: string, name: string): KubeObject;
  /** Makes the next `times` PATCHes of the object meet a concurrent writer that got there first. */
  interfere(kind: Kind, namespace: string, name: string, times: number): void;
  close(): Promise<void>;
}

export type Kind = 'deployment' | 'rollout';

export interface RecordedRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
  status: number;
}

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are free-form JSON here.
export type KubeObject = Record<string, any>;

export interface FakeKubernetesOptions {
  token: string;
  /** How often the controller acts (default 10 ms). */
  controllerIntervalMs?: number;
  /** Whether rollouts have the status subresource (default true, as since Argo Rollouts v0.10). */
  rolloutStatusSubresource?: boolean;
}

const ROUTE =
  /^\/apis\/(?:(apps\/v1)\/namespaces\/([^/]+)\/deployments|(argoproj\.io\/v1alpha1)\/namespaces\/([^/]+)\/rollouts)\/([^/]+)(\/status)?$/;

export async function startFakeKubernetes(options: FakeKubernetesOptions): Promise<FakeKubernetes> {
  const objects = new Map<string, KubeObject>();
  const interference = new Map<string, number>();
  /** The template a Deployment's updated replicas belong to. */
  const rolledTemplate = new Map<string, string>();
  const requests: RecordedRequest[] = [];
  let resourceVersion = 1000;
  const statusSubresource = options.rolloutStatusSubresource ?? true;

  const keyOf = (kind: Kind, namespace: string, name: string) => `${kind}/${namespace}/${name}`;
  const bump = (object: KubeObject) => {
    object.metadata.resourceVersion = String(++resourceVersion);
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      contentType: req.headers['content-type'],
      body: text ? safeParse(text) : undefined,
      status: 0,
    };
    requests.push(record);
    const send = (status: number, body: unknown) => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, reason: string, message: string) =>
      send(status, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code: status });

    if (req.headers.authorization !== `Bearer ${options.token}`)
      return fail(401, 'Unauthorized', 'Unauthorized');
    const route = ROUTE.exec(new URL(req.url ?? '/', 'http://fake').pathname);
    if (!route) return fail(404, 'NotFound', 'the server could not find the requested resource');
    const kind: Kind = route[1] ? 'deployment' : 'rollout';
    const namespace = decodeURIComponent((route[2] ?? route[4]) as string);
    const name = decodeURIComponent(route[5] as string);
    const toStatus = route[6] !== undefined;
    const resource = kind === 'deployment' ? 'deployments.apps' : 'rollouts.argoproj.io';
    const key = keyOf(kind, namespace, name);
    const object = objects.get(key);
    if ((toStatus && (kind === 'deployment' || !statusSubresource)) || !object) {
      return fail(404, 'NotFound', `${resource} "${name}" not found`);
    }
    if (req.method === 'GET' && !toStatus) return send(200, object);
    if (req.method !== 'PATCH') return fail(405, 'MethodNotAllowed', `${req.method} is not supported here`);
    if (req.headers['content-type'] !== 'application/merge-patch+json') {
      return fail(415, 'UnsupportedMediaType', `the body of the request was in an unknown format`);
    }
    const patch = record.body;
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
      return fail(400, 'BadRequest', 'the patch is not a JSON object');
    }

    const pending = interference.get(key) ?? 0;
    if (pending > 0) {
      // Someone else writes the object between the provider's read and its patch.
      interference.set(key, pending - 1);
      object.metadata.annotations = {
        ...object.metadata.annotations,
        'test/concurrent-writes': String(pending),
      };
      bump(object);
    }
    const precondition = (patch as KubeObject).metadata?.resourceVersion;
    if (precondition !== undefined && precondition !== object.metadata.resourceVersion) {
      return fail(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    const { status, metadata, ...rest } = patch as KubeObject;
    const { resourceVersion: _precondition, generation: _generation, ...metadataPatch } = metadata ?? {};
    if (toStatus) {
      if (status !== undefined) object.status = mergePatch(object.status, status);
    } else {
      const specBefore = JSON.stringify(object.spec);
      const next = mergePatch(object, { ...rest, metadata: metadataPatch }) as KubeObject;
      if (!statusSubresource && kind === 'rollout' && status !== undefined) {
        next.status = mergePatch(object.status, status);
      }
      for (const field of Object.keys(object)) if (!(field in next)) delete object[field];
      Object.assign(object, next);
      if (JSON.stringify(object.spec) !== specBefore) object.metadata.generation += 1;
    }
    bump(object);
    send(200, object);
  }

  function reconcile(key: string, object: KubeObject): void {
    const before = JSON.stringify(object.status ?? {});
    if (key.startsWith('deployment/')) reconcileDeployment(key, object);
    else reconcileRollout(object);
    if (JSON.stringify(object.status) !== before) bump(object);
  }
  const controller = setInterval(() => {
    for (const [key, object] of objects) reconcile(key, object);
  }, options.controllerIntervalMs ?? 10);

  function reconcileDeployment(key: string, d: KubeObject): void {
    const replicas: number = d.spec.replicas ?? 1;
    const template = JSON.stringify(d.spec.template);
    let updated: number = d.status?.updatedReplicas ?? 0;
    if (rolledTemplate.get(key) !== template) {
      rolledTemplate.set(key, template);
      updated = 0;
    }
    if (!d.spec.paused) updated += 1;
    updated = Math.min(updated, replicas);
    d.status = {
      ...d.status,
      observedGeneration: d.metadata.generation,
      replicas,
      updatedReplicas: updated,
      readyReplicas: replicas,
      availableReplicas: replicas,
    };
  }

  function reconcileRollout(ro: KubeObject): void {
    const status: KubeObject = { ...ro.status, observedGeneration: String(ro.metadata.generation) };
    status.currentPodHash = createHash('sha256')
      .update(JSON.stringify(ro.spec.template))
      .digest('hex')
      .slice(0, 10);
    if (status.stableRS === undefined || status.promoteFull === true) {
      status.stableRS = status.currentPodHash;
      delete status.promoteFull;
    }
    if (status.abort === true && status.currentPodHash === status.stableRS) status.abort = false;
    ro.status = status;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    put(kind, input) {
      const object = structuredClone(input) as KubeObject;
      object.metadata = { generation: 1, ...object.metadata };
      object.status ??= {};
      bump(object);
      const key = keyOf(kind, object.metadata.namespace, object.metadata.name);
      objects.set(key, object);
      // Created objects start settled: a Deployment fully rolled out, a Rollout with a stable hash.
      if (kind === 'deployment') {
        rolledTemplate.set(key, JSON.stringify(object.spec.template));
        object.status.updatedReplicas ??= object.spec.replicas ?? 1;
      }
      reconcile(key, object);
    },
    get(kind, namespace, name) {
      const object = objects.get(keyOf(kind, namespace, name));
      if (!object) throw new Error(`no ${kind} ${namespace}/${name}`);
      return structuredClone(object);
    },
    interfere(kind, namespace, name, times) {
      interference.set(keyOf(kind, namespace, name), times);
    },
    async close() {
      clearInterval(controller);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** RFC 7386 JSON Merge Patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return structuredClone(patch);
  const result: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
