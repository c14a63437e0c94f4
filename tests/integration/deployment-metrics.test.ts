import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../client';
import { DEPLOYMENT_STATUSES } from '../../shared/devops-deployments';
import { startTestApp, type TestApp } from '../helpers/app';
import { type DeploymentReceiver, startDeploymentReceiver } from '../helpers/deployment-receiver';
import { eventually } from '../helpers/deployments';

const SECRET = 'deployment-metrics-secret-0123456789';
let t: TestApp;
let receiver: DeploymentReceiver;

beforeAll(async () => {
  // The receiver listens on 127.0.0.1: the provider refuses private addresses unless told otherwise.
  t = await startTestApp({ LOG_LEVEL: 'warn', DEPLOY_ALLOW_PRIVATE_NETWORKS: 'true' });
  receiver = await startDeploymentReceiver(SECRET);
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
});

/** The value of one sample line of /metrics, e.g. `deployments{status="promoted"}`; undefined if absent. */
async function sample(series: string): Promise<number | undefined> {
  const text = await (await t.app.request('/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('deployment metrics', () => {
  it('exports every status at 0 and no finish time before any deployment', async () => {
    for (const status of DEPLOYMENT_STATUSES) expect(await sample(`deployments{status="${status}"}`)).toBe(0);
    for (const status of ['promoted', 'aborted', 'rolled_back', 'failed']) {
      expect(await sample(`deployment_last_finished_timestamp_seconds{status="${status}"}`)).toBe(0);
    }
  });

  it('counts a promoted deployment and says when it finished, read from the database at scrape time', async () => {
    const client = createClient({
      url: 'http://platform.test',
      headers: t.admin,
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => t.app.request(input, init)) as typeof fetch,
    });
    const created = await client.devops.deployments.create.mutate({
      service: 'shop',
      environment: 'staging',
      version: '1.1.0',
      stableVersion: '1.0.0',
      spec: { strategy: 'canary', steps: [{ setWeight: 50 }] },
      provider: { kind: 'webhook', config: { url: receiver.url, secret: SECRET } },
    });
    const finished = await eventually('the deployment to be promoted', async () => {
      const d = await client.devops.deployments.get.query({ id: created.id });
      return d.status === 'promoted' ? d : undefined;
    });
    expect(receiver.calls.map((c) => c.action)).toContain('promote');

    // Scrapes carry figures up to a second old.
    await eventually('the scrape to count it', async () =>
      (await sample('deployments{status="promoted"}')) === 1 ? true : undefined,
    );
    for (const status of DEPLOYMENT_STATUSES.filter((s) => s !== 'promoted')) {
      expect(await sample(`deployments{status="${status}"}`), status).toBe(0);
    }
    const finishedAt = new Date(finished.finishedAt as string).getTime() / 1000;
    expect(await sample('deployment_last_finished_timestamp_seconds{status="promoted"}')).toBeCloseTo(
      finishedAt,
      3,
    );
    expect(await sample('deployment_last_finished_timestamp_seconds{status="aborted"}')).toBe(0);
  });
});
