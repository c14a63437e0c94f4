import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createOutboundPolicy } from '../../server/base/outbound/index';
import { verifyWebhookSignature } from '../../server/base/outbound/webhook-signature';
import type { DeploymentTarget } from '../../server/services/deployments/contracts';
import {
  KubernetesApiError,
  KubernetesProvider,
  type KubernetesProviderOptions,
  REPLICAS_ANNOTATION,
} from '../../server/services/deployments/provider-kubernetes';
import {
  createProviderRegistry,
  defaultProviderFactories,
  ProviderConfigError,
} from '../../server/services/deployments/provider-registry';
import { WebhookProvider } from '../../server/services/deployments/provider-webhook';
import { type FakeKubernetes, type KubeObject, startFakeKubernetes } from '../helpers/fake-kubernetes';

const target: DeploymentTarget = {
  deploymentId: '0b9c2f8e-5d0a-4c1e-9a57-3f1f7d2c9e10',
  service: 'shop',
  environment: 'production',
  version: '1.1.0',
  stableVersion: '1.0.0',
  strategy: 'canary',
  providerConfig: {},
};

// --- Webhook provider ----------------------------------------------------------------------------------

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local receiver answering with the scripted statuses in turn (then 200), recording every request. */
async function startReceiver() {
  const received: Received[] = [];
  let script: number[] = [];
  let hang = false;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
    if (hang) return;
    res.writeHead(script.shift() ?? 200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/deployments`,
    received,
    answer(statuses: number[]) {
      script = [...statuses];
    },
    hangForever() {
      hang = true;
    },
    reset() {
      received.length = 0;
      script = [];
      hang = false;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const SECRET = 'whsec_deployments-test-secret-0123456789';
// The receivers and the Kubernetes contract server listen on 127.0.0.1: allowed explicitly.
const loopbackAllowed = createOutboundPolicy({
  allow: { deployment_webhook: ['127.0.0.0/8'], kubernetes: ['127.0.0.0/8'], metrics: ['127.0.0.0/8'] },
});

describe('WebhookProvider', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const provider = (overrides: Partial<ConstructorParameters<typeof WebhookProvider>[0]> = {}) =>
    new WebhookProvider({
      url: receiver.url,
      secret: SECRET,
      timeoutMs: 2_000,
      retries: 3,
      backoff: { baseMs: 10, maxMs: 50 },
      outbound: loopbackAllowed,
      ...overrides,
    });

  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterEach(() => receiver.reset());
  afterAll(() => receiver?.close());

  const verifies = (r: Received, secret = SECRET) =>
    verifyWebhookSignature({
      secret,
      body: r.body,
      timestamp: r.headers['x-platform-timestamp'] as string,
      signature: r.headers['x-platform-signature'] as string,
    });

  it('posts every action as signed JSON the receiver can verify', async () => {
    const webhook = provider();
    await webhook.prepare(target);
    await webhook.setWeight(target, 25);
    await webhook.scale({ ...target, strategy: 'rolling' }, { updated: 2, total: 4 });
    await webhook.promote(target);
    await webhook.rollback(target);

    expect(receiver.received.map((r) => JSON.parse(r.body))).toEqual([
      {
        action: 'prepare',
        deploymentId: target.deploymentId,
        service: 'shop',
        environment: 'production',
        version: '1.1.0',
        stableVersion: '1.0.0',
        strategy: 'canary',
      },
      expect.objectContaining({ action: 'setWeight', weight: 25 }),
      expect.objectContaining({ action: 'scale', updated: 2, total: 4, strategy: 'rolling' }),
      expect.objectContaining({ action: 'promote' }),
      expect.objectContaining({ action: 'rollback' }),
    ]);
    for (const r of receiver.received) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(verifies(r)).toBe(true);
      expect(verifies(r, 'whsec_some-other-secret-0123456789')).toBe(false);
      // A body altered in transit no longer matches its signature.
      expect(verifies({ ...r, body: r.body.replace('shop', 'shoq') })).toBe(false);
    }
    expect(receiver.received.map((r) => r.headers['idempotency-key'])).toEqual([
      `${target.deploymentId}:prepare`,
      `${target.deploymentId}:setWeight:25`,
      `${target.deploymentId}:scale:2/4`,
      `${target.deploymentId}:promote`,
      `${target.deploymentId}:rollback`,
    ]);
  });

  it('retries a 503 until the receiver takes the call, with the same body and idempotency key', async () => {
    receiver.answer([503, 503]);
    await provider().setWeight(target, 50);
    expect(receiver.received).toHaveLength(3);
    const [first, ...retries] = receiver.received as [Received, ...Received[]];
    for (const r of retries) {
      expect(r.body).toBe(first.body);
      expect(r.headers['idempotency-key']).toBe(`${target.deploymentId}:setWeight:50`);
      expect(verifies(r)).toBe(true);
    }
  });

  it('retries 429 and 408 too, and gives up after the last retry with a clear message', async () => {
    receiver.answer([429, 408]);
    await provider().promote(target);
    expect(receiver.received).toHaveLength(3);

    receiver.reset();
    receiver.answer([500, 502, 503, 504, 500]);
    await expect(provider({ retries: 3 }).promote(target)).rejects.toThrow(
      `webhook provider: promote for deployment ${target.deploymentId} failed at ${new URL(receiver.url).origin}: the receiver answered 504`,
    );
    expect(receiver.received).toHaveLength(4);
  });

  it('does not retry a 400: the receiver refuses the call itself', async () => {
    receiver.answer([400]);
    await expect(provider().rollback(target)).rejects.toThrow('the receiver answered 400');
    expect(receiver.received).toHaveLength(1);
  });

  it('retries when the receiver cannot be reached, then says so', async () => {
    const gone = await startReceiver();
    await gone.close();
    await expect(provider({ url: gone.url, retries: 2 }).prepare(target)).rejects.toThrow(
      /: connection_failed: the connection was refused$/,
    );
  });

  it('bounds each attempt by the timeout', async () => {
    receiver.hangForever();
    await expect(provider({ timeoutMs: 200, retries: 1 }).prepare(target)).rejects.toThrow(
      'no answer within 200 ms',
    );
    expect(receiver.received).toHaveLength(2);
  });

  it('refuses a private address unless private networks are allowed, and a weight outside 0-100', async () => {
    expect(() => provider({ outbound: createOutboundPolicy() })).toThrow(/^destination_not_allowed: /);
    await expect(provider().setWeight(target, 120)).rejects.toThrow('from 0 to 100');
    expect(receiver.received).toHaveLength(0);
  });
});

// --- Kubernetes provider -------------------------------------------------------------------------------

const TOKEN = 'k8s-test-service-account-token';
const NAMESPACE = 'shop-prod';

function deployment(name: string, replicas: number, version: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: {
          containers: [
            {
              name: 'app',
              image: `registry.example.com:5000/shop:${version}`,
              ports: [{ containerPort: 8080 }],
            },
            { name: 'proxy', image: 'envoyproxy/envoy:v1.30.0' },
          ],
        },
      },
      ...extra,
    },
  };
}

function rollout(strategy: Record<string, unknown>) {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Rollout',
    metadata: { name: 'shop', namespace: NAMESPACE },
    spec: {
      replicas: 5,
      selector: { matchLabels: { app: 'shop' } },
      template: {
        metadata: { labels: { app: 'shop' } },
        spec: { containers: [{ name: 'app', image: 'registry.example.com:5000/shop:1.0.0' }] },
      },
      strategy,
    },
  };
}

describe('KubernetesProvider', () => {
  let fake: FakeKubernetes;
  const provider = (overrides: Partial<KubernetesProviderOptions> = {}) =>
    new KubernetesProvider({
      apiUrl: fake.url,
      token: TOKEN,
      namespace: NAMESPACE,
      mode: 'deployment',
      timeoutMs: 2_000,
      container: 'app',
      pollIntervalMs: 10,
      rolloutTimeoutMs: 10_000,
      outbound: loopbackAllowed,
      ...overrides,
    });
  const getDeployment = (name: string) => fake.get('deployment', NAMESPACE, name);
  const getRollout = () => fake.get('rollout', NAMESPACE, 'shop');
  /** The image of the first container (the app; a sidecar follows it). */
  const image = (object: KubeObject): string => object.spec.template.spec.containers[0].image;
  const patches = (pathEnd: string) =>
    fake.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(pathEnd));

  beforeEach(async () => {
    fake = await startFakeKubernetes({ token: TOKEN });
  });
  afterEach(() => fake?.close());

  describe('with two Deployments, <name>-stable and <name>-canary', () => {
    beforeEach(() => {
      fake.put('deployment', deployment('shop-stable', 4, '1.0.0'));
      fake.put('deployment', deployment('shop-canary', 0, '1.0.0'));
    });

    it('moves canary weights as replicas, then promotes the new version into the stable Deployment', async () => {
      const k8s = provider();
      await k8s.prepare(target);
      let canary = getDeployment('shop-canary');
      expect(image(canary)).toBe('registry.example.com:5000/shop:1.1.0');
      expect(canary.spec.template.spec.containers[1].image).toBe('envoyproxy/envoy:v1.30.0');
      expect(canary.spec.replicas).toBe(0);
      expect(getDeployment('shop-stable').metadata.annotations[REPLICAS_ANNOTATION]).toBe('4');

      const replicas = () => [
        getDeployment('shop-stable').spec.replicas,
        getDeployment('shop-canary').spec.replicas,
      ];
      await k8s.setWeight(target, 25);
      expect(replicas()).toEqual([3, 1]);
      await k8s.setWeight(target, 50);
      expect(replicas()).toEqual([2, 2]);
      await k8s.setWeight(target, 10);
      expect(replicas()).toEqual([4 - 1, 1]);
      await k8s.setWeight(target, 75);
      expect(replicas()).toEqual([1, 3]);

      await k8s.promote(target);
      const stable = getDeployment('shop-stable');
      expect(image(stable)).toBe('registry.example.com:5000/shop:1.1.0');
      expect(stable.status).toMatchObject({ updatedReplicas: 4, availableReplicas: 4 });
      canary = getDeployment('shop-canary');
      expect(canary.spec.replicas).toBe(0);
      // The fake's controller writes status on its own timer, so a patch may meet a 409 Conflict
      // (which the provider answers by reading again); nothing else may fail.
      const failures = fake.requests.filter((r) => r.status >= 300 && r.status !== 409);
      expect(failures).toEqual([]);
    });

    it('rolls back: all replicas on the stable version, the canary scaled to nothing', async () => {
      const k8s = provider();
      await k8s.prepare(target);
      await k8s.setWeight(target, 50);
      await k8s.rollback(target);
      const stable = getDeployment('shop-stable');
      expect(stable.spec.replicas).toBe(4);
      expect(image(stable)).toBe('registry.example.com:5000/shop:1.0.0');
      expect(getDeployment('shop-canary').spec.replicas).toBe(0);
    });

    it('repeats a step without writing anything: every call is idempotent', async () => {
      const k8s = provider();
      await k8s.prepare(target);
      let written = patches('').length;
      await k8s.prepare(target);
      expect(patches('')).toHaveLength(written);
      await k8s.setWeight(target, 50);
      written = patches('').length;
      await k8s.setWeight(target, 50);
      expect(patches('')).toHaveLength(written);
    });

    it('runs a blue-green preview at full size and cuts over on promote', async () => {
      const k8s = provider();
      const blueGreen = { ...target, strategy: 'blueGreen' as const };
      await k8s.prepare(blueGreen);
      const preview = getDeployment('shop-canary');
      expect(preview.spec.replicas).toBe(4);
      expect(preview.status).toMatchObject({ updatedReplicas: 4, availableReplicas: 4 });
      expect(getDeployment('shop-stable').spec.replicas).toBe(4);
      await k8s.promote(blueGreen);
      expect(image(getDeployment('shop-stable'))).toBe('registry.example.com:5000/shop:1.1.0');
      expect(getDeployment('shop-canary').spec.replicas).toBe(0);
    });

    it('retries a patch refused with 409 Conflict after re-reading the object', async () => {
      const k8s = provider();
      await k8s.prepare(target);
      fake.interfere('deployment', NAMESPACE, 'shop-canary', 2);
      await k8s.setWeight(target, 25);
      const canaryPatches = patches('/deployments/shop-canary');
      expect(canaryPatches.slice(-3).map((r) => r.status)).toEqual([409, 409, 200]);
      const canary = getDeployment('shop-canary');
      // The concurrent writer's change survives, and so does ours.
      expect(canary.metadata.annotations['test/concurrent-writes']).toBe('1');
      expect(canary.spec.replicas).toBe(1);
      // Every patch carried the resourceVersion it was computed from.
      for (const r of canaryPatches) {
        expect((r.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion).toMatch(
          /^\d+$/,
        );
      }
    });

    it('gives up on an object that keeps changing under it, with the API server’s reason and none of its text', async () => {
      const k8s = provider();
      fake.interfere('deployment', NAMESPACE, 'shop-canary', 100);
      const failure = k8s.prepare(target).catch((error: unknown) => error);
      const error = await failure;
      expect(error).toBeInstanceOf(KubernetesApiError);
      expect((error as KubernetesApiError).status).toBe(409);
      expect((error as Error).message).toMatch(/: 409 Conflict$/);
      expect((error as Error).message).not.toContain('the object has been modified');
    });

    it('refuses a version that cannot be an image tag and a wrong token', async () => {
      await expect(provider().prepare({ ...target, version: '1.1.0+build.7' })).rejects.toThrow(
        "'1.1.0+build.7' cannot be an image tag",
      );
      await expect(provider({ token: 'wrong' }).prepare(target)).rejects.toThrow(/401 Unauthorized/);
    });
  });

  describe('with one Deployment, rolling', () => {
    const rolling = { ...target, strategy: 'rolling' as const };

    beforeEach(() => {
      fake.put('deployment', deployment('shop', 4, '1.0.0'));
    });

    it('holds the new image paused, releases it batch by batch, and completes on promote', async () => {
      const k8s = provider({ maxSurge: 1, maxUnavailable: 0 });
      await k8s.prepare(rolling);
      let shop = getDeployment('shop');
      expect(shop.spec).toMatchObject({
        paused: true,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      });
      expect(image(shop)).toBe('registry.example.com:5000/shop:1.1.0');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(getDeployment('shop').status.updatedReplicas).toBe(0);

      await k8s.scale(rolling, { updated: 2, total: 4 });
      shop = getDeployment('shop');
      expect(shop.spec.paused).toBe(true);
      expect(shop.status.updatedReplicas).toBeGreaterThanOrEqual(2);

      await k8s.promote(rolling);
      shop = getDeployment('shop');
      expect(shop.spec.paused).toBe(false);
      expect(shop.status).toMatchObject({ updatedReplicas: 4, availableReplicas: 4, replicas: 4 });
    });

    it('rolls back to the stable image', async () => {
      const k8s = provider();
      await k8s.prepare(rolling);
      await k8s.scale(rolling, { updated: 1, total: 4 });
      await k8s.rollback(rolling);
      const shop = getDeployment('shop');
      expect(image(shop)).toBe('registry.example.com:5000/shop:1.0.0');
      expect(shop.spec.paused).toBe(false);
      expect(shop.status.updatedReplicas).toBe(4);
    });
  });

  describe('with an Argo Rollout', () => {
    it('drives a canary Rollout: one weight and an indefinite pause per step, full promotion through /status', async () => {
      fake.put('rollout', rollout({ canary: { steps: [{ setWeight: 20 }, { pause: { duration: 60 } }] } }));
      const k8s = provider({ mode: 'argoRollout' });
      await k8s.prepare(target);
      let ro = getRollout();
      expect(image(ro)).toBe('registry.example.com:5000/shop:1.1.0');
      expect(ro.spec.strategy.canary.steps).toEqual([{ setWeight: 0 }, { pause: {} }]);

      await k8s.setWeight(target, 30);
      expect(getRollout().spec.strategy.canary.steps).toEqual([{ setWeight: 30 }, { pause: {} }]);

      await k8s.promote(target);
      expect(patches('/rollouts/shop/status').map((r) => r.body)).toEqual([
        { status: { promoteFull: true } },
      ]);
      ro = getRollout();
      expect(ro.status.stableRS).toBe(ro.status.currentPodHash);
      // Promoted already: a repeat writes nothing.
      const written = patches('').length;
      await k8s.promote(target);
      expect(patches('')).toHaveLength(written);
    });

    it('rolls a canary Rollout back: abort through /status, then the template back to the stable version', async () => {
      fake.put('rollout', rollout({ canary: { steps: [{ setWeight: 20 }] } }));
      const stableHash = getRollout().status.stableRS;
      const k8s = provider({ mode: 'argoRollout' });
      await k8s.prepare(target);
      await k8s.setWeight(target, 40);
      await k8s.rollback(target);
      expect(patches('/rollouts/shop/status').map((r) => r.body)).toEqual([{ status: { abort: true } }]);
      expect(image(getRollout())).toBe('registry.example.com:5000/shop:1.0.0');
      // The controller sees the stable template again and ends the abort.
      await expect
        .poll(() => getRollout().status)
        .toMatchObject({ abort: false, currentPodHash: stableHash });
      const written = patches('').length;
      await k8s.rollback(target);
      expect(patches('')).toHaveLength(written);
    });

    it('holds a blue-green Rollout before the switch and refuses weights for it', async () => {
      fake.put('rollout', rollout({ blueGreen: { activeService: 'shop', previewService: 'shop-preview' } }));
      const k8s = provider({ mode: 'argoRollout' });
      const blueGreen = { ...target, strategy: 'blueGreen' as const };
      await k8s.prepare(blueGreen);
      expect(getRollout().spec.strategy.blueGreen).toEqual({
        activeService: 'shop',
        previewService: 'shop-preview',
        autoPromotionEnabled: false,
      });
      await expect(k8s.setWeight(blueGreen, 50)).rejects.toThrow('blue-green');
      await k8s.promote(blueGreen);
      const ro = getRollout();
      expect(ro.status.stableRS).toBe(ro.status.currentPodHash);
    });
  });

  it('patches the Rollout itself where the CRD has no status subresource (Argo Rollouts before v0.10)', async () => {
    await fake.close();
    fake = await startFakeKubernetes({ token: TOKEN, rolloutStatusSubresource: false });
    fake.put('rollout', rollout({ canary: { steps: [] } }));
    const k8s = provider({ mode: 'argoRollout' });
    await k8s.prepare(target);
    await k8s.promote(target);
    expect(patches('/rollouts/shop/status').map((r) => r.status)).toEqual([404]);
    expect(patches('/rollouts/shop').at(-1)?.body).toEqual({ status: { promoteFull: true } });
    const ro = getRollout();
    expect(ro.status.stableRS).toBe(ro.status.currentPodHash);
  });
});

// --- Registry ------------------------------------------------------------------------------------------

describe('createProviderRegistry', () => {
  const registry = createProviderRegistry(defaultProviderFactories({ outbound: loopbackAllowed }));

  it('builds a provider of the named kind from a validated configuration', async () => {
    const receiver = await startReceiver();
    try {
      const webhook = registry('webhook', { url: receiver.url, secret: SECRET });
      expect(webhook).toBeInstanceOf(WebhookProvider);
      await webhook.promote(target);
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
    const kubernetes = registry('kubernetes', {
      apiUrl: 'https://kubernetes.default.svc',
      token: TOKEN,
      namespace: NAMESPACE,
      name: 'shop',
      mode: 'argoRollout',
    });
    expect(kubernetes).toBeInstanceOf(KubernetesProvider);
    expect(kubernetes.kind).toBe('kubernetes');
  });

  it('refuses an unknown kind and an invalid configuration without echoing its values', () => {
    expect(() => registry('ssh', {})).toThrow("unknown provider kind 'ssh'");
    let error: unknown;
    try {
      registry('webhook', { url: 'ftp://example.com', secret: 'short-secret', extra: true });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProviderConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(/^invalid webhook provider configuration: /);
    expect(message).toContain('url');
    expect(message).toContain('secret');
    expect(message).not.toContain('short-secret');
    expect(() =>
      registry('kubernetes', {
        apiUrl: 'https://k8s',
        token: TOKEN,
        namespace: 'Shop',
        name: 'shop',
        mode: 'helm',
      }),
    ).toThrow(/namespace.*mode|mode.*namespace/);
  });
});
