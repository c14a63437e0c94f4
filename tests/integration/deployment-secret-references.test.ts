import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type PlatformClient } from '../../client';
import type { DeploymentCreateInput, DeploymentWithEvents } from '../../shared/devops-deployments';
import { startTestApp, type TestApp } from '../helpers/app';
import { createOrganization, login } from '../helpers/auth';
import { type DeploymentReceiver, startDeploymentReceiver } from '../helpers/deployment-receiver';
import { eventually } from '../helpers/deployments';

/**
 * Provider secrets taken from the deployment's environment: `{ "environmentSecret": "NAME" }` in
 * a secret's field. The webhook receiver accepts only calls signed with the environment's secret,
 * so a deployment that reaches it used that secret; the deployment shows the reference back,
 * never the secret, and can be started again from what it shows.
 */

const SECRET = 'staging-webhook-secret-0123456789abcdef';
const REFERENCE = { environmentSecret: 'DEPLOY_WEBHOOK_SECRET' };

let t: TestApp;
let client: PlatformClient;
let receiver: DeploymentReceiver;

function clientOf(headers: Record<string, string>): PlatformClient {
  return createClient({
    url: 'http://platform.test',
    headers,
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(input, init)) as typeof fetch,
  });
}

beforeAll(async () => {
  // The receiver listens on 127.0.0.1.
  t = await startTestApp({ DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true' });
  client = clientOf(t.admin);
  receiver = await startDeploymentReceiver(SECRET);
  await client.devops.environments.setConfig.mutate({
    name: 'staging',
    secrets: { DEPLOY_WEBHOOK_SECRET: SECRET },
  });
});
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});

type ProviderConfig = NonNullable<DeploymentCreateInput['provider']['config']>;

function input(version: string, config: ProviderConfig, environment = 'staging'): DeploymentCreateInput {
  return {
    service: `orders-${version.replaceAll('.', '-')}`,
    environment,
    version,
    stableVersion: '1.0.0',
    spec: { strategy: 'canary', steps: [{ setWeight: 50 }] },
    provider: { kind: 'webhook', config },
  };
}

async function finished(id: string): Promise<DeploymentWithEvents> {
  return eventually(
    `deployment ${id} to finish`,
    async () => {
      const deployment = (await client.devops.deployments.get.query({ id })) as DeploymentWithEvents;
      return ['promoted', 'aborted', 'rolled_back', 'failed'].includes(deployment.status)
        ? deployment
        : undefined;
    },
    30_000,
  );
}

describe('provider secrets from the environment', () => {
  it('signs every call with the environment secret named, shows the name back, and starts again from it', async () => {
    const created = await client.devops.deployments.create.mutate(
      input('2.0.0', { url: receiver.url, secret: REFERENCE }),
    );
    expect(created.provider.config).toEqual({ url: receiver.url, secret: REFERENCE });
    const done = await finished(created.id);
    expect(done.status).toBe('promoted');
    // Accepted by the receiver: signed with the staging environment's secret.
    expect(receiver.calls.filter((c) => c.deploymentId === created.id).map((c) => c.action)).toEqual([
      'prepare',
      'setWeight',
      'promote',
    ]);
    // At rest: sealed, the name beside it, never the secret.
    const row = await t.deps.database.db
      .selectFrom('deployments')
      .select('provider')
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    const stored = JSON.stringify(row.provider);
    expect(stored).not.toContain(SECRET);
    expect(stored).toContain('DEPLOY_WEBHOOK_SECRET');

    // Started again from the configuration it shows: nobody types the secret.
    const again = await client.devops.deployments.create.mutate({
      ...input('2.0.0', {}),
      service: created.service,
      version: '2.1.0',
      stableVersion: undefined,
      provider: done.provider as DeploymentCreateInput['provider'],
    });
    expect((await finished(again.id)).status).toBe('promoted');
    expect(receiver.calls.filter((c) => c.deploymentId === again.id)).toHaveLength(3);
  });

  it('refuses a secret the environment lacks, a reference outside a secret field, and an unknown environment', async () => {
    await expect(
      client.devops.deployments.create.mutate(
        input('3.0.0', { url: receiver.url, secret: { environmentSecret: 'NOPE' } }),
      ),
    ).rejects.toThrow('provider: the environment staging has no secret NOPE');
    await expect(
      client.devops.deployments.create.mutate(input('3.0.1', { url: REFERENCE, secret: SECRET })),
    ).rejects.toThrow(/provider\.config\.url: environmentSecret only in a secret's field/);
    await expect(
      client.devops.deployments.create.mutate(
        input('3.0.2', { url: receiver.url, secret: REFERENCE }, 'nowhere'),
      ),
    ).rejects.toThrow('provider: no environment named nowhere to take secrets from');
    const list = await client.devops.deployments.list.query({ limit: 100 });
    expect(list.items.filter((d) => d.version.startsWith('3.0.'))).toEqual([]);
  });

  it("never reaches another organization's environment: the same name there is its own", async () => {
    const other = await createOrganization(t);
    const otherClient = clientOf((await login(t, other)).headers);
    await expect(
      otherClient.devops.deployments.create.mutate(input('4.0.0', { url: receiver.url, secret: REFERENCE })),
    ).rejects.toThrow('provider: the environment staging has no secret DEPLOY_WEBHOOK_SECRET');
    // With a secret of its own under that name (not the receiver's), its calls are refused by the receiver.
    await otherClient.devops.environments.setConfig.mutate({
      name: 'staging',
      secrets: { DEPLOY_WEBHOOK_SECRET: 'another-organizations-secret-0123' },
    });
    const created = await otherClient.devops.deployments.create.mutate(
      input('4.0.1', { url: receiver.url, secret: REFERENCE }),
    );
    const done = await eventually(
      'the other organization’s deployment to stop',
      async () => {
        const d = (await otherClient.devops.deployments.get.query({
          id: created.id,
        })) as DeploymentWithEvents;
        // Refused by the receiver (401, not retried): the deployment waits for an operator.
        return ['paused', 'failed', 'rolled_back', 'aborted'].includes(d.status) ? d : undefined;
      },
      20_000,
    );
    expect(done.status).not.toBe('promoted');
    expect(JSON.stringify(done.events)).toContain('401');
    expect(receiver.calls.filter((c) => c.deploymentId === created.id)).toEqual([]);
  });
});
