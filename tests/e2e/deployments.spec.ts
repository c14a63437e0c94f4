import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { E2E_ADMIN, SCREENSHOTS } from './platform';
import { guardPages, signIn } from './session';

/**
 * A stand-in for the load balancer's control API the webhook provider drives: it answers every
 * signed call with 204 and remembers the actions, so the canary can progress for real.
 */
let receiver: Server;
const actions: string[] = [];
test.beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      actions.push((JSON.parse(body) as { action: string }).action);
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
});
test.afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

guardPages();

test('a canary started through the API progresses on the Deployments page, waits at its gate, is approved there, then rolled back', async ({
  page,
  request,
}) => {
  // As an API client would: no Sec-Fetch-Site header, so the tokens come in the body.
  const login = await request.post('/api/trpc/auth.login', { data: E2E_ADMIN });
  expect(login.ok()).toBe(true);
  const accessToken = ((await login.json()) as { result: { data: { accessToken: string } } }).result.data
    .accessToken;
  const version = `v${Date.now()}`;
  const deployment = {
    service: 'shop',
    environment: 'staging',
    version,
    stableVersion: 'v1',
    spec: {
      strategy: 'canary',
      steps: [
        { setWeight: 20 },
        { pause: { durationSeconds: 2 } },
        { gate: { name: 'looks good' } },
        { setWeight: 60 },
      ],
    },
    provider: {
      kind: 'webhook',
      config: {
        url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
        secret: 'e2e-secret-0123456789abcdef',
      },
    },
  };
  const created = await request.post('/api/trpc/devops.deployments.create', {
    headers: { authorization: `Bearer ${accessToken}` },
    data: deployment,
  });
  expect(created.ok(), await created.text()).toBe(true);

  await signIn(page);
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Deployments' }).click();
  await page.getByRole('button', { name: `Open deployment shop ${version}` }).click();
  const detail = page.getByTestId('deployment-detail');
  await expect(detail).toContainText(version);
  // The engine moves it through weight and pause to the gate, where it waits for a person.
  await expect(detail.getByText('paused', { exact: true })).toBeVisible({ timeout: 30_000 });
  await page.screenshot({ path: `${SCREENSHOTS}/deployment-gate.png`, fullPage: true });
  expect(actions).toContain('setWeight');

  await detail.getByRole('button', { name: 'Approve' }).click();
  await expect(detail.getByText('promoted', { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(
    page
      .getByRole('table', { name: 'Deployments, newest first' })
      .getByRole('row')
      .filter({ hasText: version }),
  ).toContainText('promoted');
  expect(actions).toContain('promote');
  await page.screenshot({ path: `${SCREENSHOTS}/deployment-promoted.png`, fullPage: true });

  // Rolled back from the page: the reason and the bad mark go with it, and the engine sends the
  // traffic back to the stable version through the provider.
  await detail.getByRole('button', { name: 'Roll back' }).click();
  const rollback = page.getByRole('dialog', { name: `Roll back shop ${version}` });
  await rollback.getByLabel('Reason').fill('error budget burned');
  await rollback.getByLabel(/Mark this version bad/).check();
  await page.screenshot({ path: `${SCREENSHOTS}/deployment-rollback.png` });
  await rollback.getByRole('button', { name: 'Roll back' }).click();
  await expect(rollback).toBeHidden();
  await expect(detail.getByText('rolled_back', { exact: true })).toBeVisible({ timeout: 30_000 });
  expect(actions).toContain('rollback');
  await expect(detail.getByRole('button', { name: 'Roll back' })).toHaveCount(0);
  await page.screenshot({ path: `${SCREENSHOTS}/deployment-rolled-back.png`, fullPage: true });

  // A version marked bad is refused from then on.
  const again = await request.post('/api/trpc/devops.deployments.create', {
    headers: { authorization: `Bearer ${accessToken}` },
    data: { ...deployment, version },
  });
  expect(again.status()).toBe(400);
  expect(await again.text()).toContain('marked bad');
});
