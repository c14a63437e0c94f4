import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, test } from '@playwright/test';
import { accessToken, createMember } from './api-calls';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, separateBrowsers, signIn } from './session';

/**
 * A deployment started from the dashboard's form, not the API: the strategy and its steps, a new
 * webhook provider, then one an earlier deployment used (its secret typed again); the engine
 * drives the receiver below for real, and the page shows the progress and its controls.
 */
let receiver: Server;
const actions: string[] = [];
let scrapes = 0;
test.beforeAll(async () => {
  receiver = createServer((request, response) => {
    // The new version's metrics, which the analysis step measures.
    if (request.method === 'GET' && request.url === '/metrics') {
      scrapes++;
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      response.end('# TYPE checkout_error_ratio gauge\ncheckout_error_ratio 0.01\n');
      return;
    }
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

const guards = guardPages();
const secondBrowser = separateBrowsers(guards);

test('a canary started from the form progresses to its gate, is approved, and a blue-green reuses its provider', async ({
  page,
  browser,
  request,
}) => {
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const version = `v${Date.now()}`;
  await signIn(page);
  await openSection(page, 'Deployments');
  await page.getByRole('button', { name: 'Start deployment' }).click();
  const form = page.getByRole('dialog', { name: 'Start deployment' });
  await form.getByLabel('Service', { exact: true }).fill('basket');
  await expect(form.getByLabel('Environment').locator('option[value=staging]')).toHaveCount(1);
  await form.getByLabel('Environment').selectOption('staging');
  await form.getByLabel('Version', { exact: true }).fill(version);
  await form.getByLabel('Version serving now').fill('v1');
  await form.getByLabel('Strategy').selectOption('canary');
  // The proposed steps: 20 %, a pause, 50 %, a gate. The pause is made short, a step added.
  const steps = form.locator('[data-step]');
  await expect(steps).toHaveCount(4);
  await steps.nth(1).getByRole('spinbutton').fill('1');
  await form.getByRole('button', { name: 'Add a step' }).click();
  await steps.nth(4).getByRole('spinbutton').fill('80');
  // Then an analysis of the new version's own /metrics: a ratio under 5 %, twice.
  await form.getByRole('button', { name: 'Add a step' }).click();
  const analysis = steps.nth(5);
  await analysis.getByLabel('Step', { exact: true }).selectOption('analysis');
  await analysis.getByLabel('Metric name').fill('errors');
  await analysis.getByLabel(/^Query/).fill('checkout_error_ratio');
  await analysis.getByLabel('Succeeds when the value is').selectOption('<');
  await analysis.getByLabel('than (or equal to)').fill('0.05');
  await analysis.getByLabel('Every (seconds)').fill('0.2');
  await analysis.getByLabel('Times').fill('2');
  await form.getByLabel('Configuration').selectOption('webhook');
  await form.getByLabel('Webhook URL').fill(url);
  await form.getByLabel('Signing secret').fill('e2e-form-secret-0123456789');
  await form.getByLabel(/^Metrics of the new version/).fill(`${url.replace('/hooks', '')}/metrics`);
  await page.screenshot({ path: `${SCREENSHOTS}/deploy-start.png`, fullPage: true });
  await form.getByRole('button', { name: 'Start deployment' }).click();
  await expect(form).toBeHidden();

  // The new deployment opens with its plan in words and its progress.
  const detail = page.getByTestId('deployment-detail');
  await expect(detail).toContainText(`basket ${version} → staging`);
  const plan = detail.getByRole('list', { name: 'Steps' });
  await expect(plan).toContainText('Send 20 % of traffic to the new version');
  await expect(plan).toContainText('Pause 1 s');
  await expect(plan).toContainText('Wait for approval: looks good');
  await expect(plan).toContainText('Send 80 % of traffic to the new version');
  await expect(detail.getByText('paused', { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(plan.locator('[aria-current=step]')).toContainText('looks good');
  expect(actions).toContain('setWeight');
  await page.screenshot({ path: `${SCREENSHOTS}/deploy-started-gate.png`, fullPage: true });
  await detail.getByRole('button', { name: 'Approve' }).click();
  await expect(detail.getByText('promoted', { exact: true })).toBeVisible({ timeout: 30_000 });
  expect(actions).toContain('promote');
  await expect(plan).toContainText('Analyse errors (2 × every 0.2 s)');
  const history = detail.getByRole('table', { name: /What happened/ });
  await expect(history.getByRole('row').filter({ hasText: 'Analysis completed' })).toContainText(
    'successful',
  );
  expect(scrapes).toBeGreaterThanOrEqual(2);
  await expect(history.getByRole('row').filter({ hasText: 'Approved' }).first()).toBeVisible();
  await expect(history.getByRole('row').filter({ hasText: 'paused → progressing' }).first()).toBeVisible();

  // The next one takes the provider the first used: its URL comes filled in, its secret does not.
  const next = `${version}-bg`;
  await page.getByRole('button', { name: 'Start deployment' }).click();
  await form.getByLabel('Service', { exact: true }).fill('basket');
  await form.getByLabel('Environment').selectOption('staging');
  await form.getByLabel('Version', { exact: true }).fill(next);
  await form.getByLabel('Strategy').selectOption('blueGreen');
  await form.getByLabel('Keep the old version up after the switch (seconds)').fill('0');
  const saved = form.getByLabel('Configuration').locator('option', { hasText: url });
  await expect(saved.first()).toBeAttached();
  await form.getByLabel('Configuration').selectOption({ label: (await saved.first().textContent()) ?? '' });
  await expect(form.getByLabel('Webhook URL')).toHaveValue(url);
  await expect(form.getByLabel('Signing secret')).toHaveValue('');
  // Without the secret the form is not sent (and the server would refuse it too).
  await form.getByRole('button', { name: 'Start deployment' }).click();
  await expect(form).toBeVisible();
  await form.getByLabel('Signing secret').fill('e2e-form-secret-0123456789');
  await form.getByRole('button', { name: 'Start deployment' }).click();
  await expect(form).toBeHidden();
  await expect(detail).toContainText(`basket ${next} → staging`);
  await expect(detail.getByText('promoted', { exact: true })).toBeVisible({ timeout: 30_000 });
  await expect(
    page.getByRole('table', { name: 'Deployments, newest first' }).getByRole('row').filter({ hasText: next }),
  ).toContainText('blueGreen');

  // A bad step is the server's to refuse, and the form says why, staying open.
  await page.getByRole('button', { name: 'Start deployment' }).click();
  await form.getByLabel('Service', { exact: true }).fill('basket');
  await form.getByLabel('Version', { exact: true }).fill(`${version}-bad`);
  await form.getByLabel('Strategy').selectOption('rolling');
  await form.getByLabel('Extra replicas during the update (max surge)').fill('0');
  await form.getByLabel('Replicas that may be down (max unavailable)').fill('0');
  await form.getByLabel('Configuration').selectOption('webhook');
  await form.getByLabel('Webhook URL').fill(url);
  await form.getByLabel('Signing secret').fill('e2e-form-secret-0123456789');
  await form.getByRole('button', { name: 'Start deployment' }).click();
  await expect(form.getByRole('alert')).toContainText('cannot both be 0');
  await form.getByRole('button', { name: 'Close' }).click();

  // A viewer follows deployments but has no control to start or steer one.
  const token = await accessToken(request);
  const viewer = await createMember(request, token, 'viewer');
  const viewerPage = await secondBrowser(browser);
  await signIn(viewerPage, viewer);
  await openSection(viewerPage, 'Deployments');
  await viewerPage.getByRole('button', { name: `Open deployment basket ${version}`, exact: true }).click();
  await expect(viewerPage.getByTestId('deployment-detail')).toContainText('promoted');
  await expect(viewerPage.getByRole('button', { name: 'Start deployment' })).toHaveCount(0);
  await expect(viewerPage.getByRole('button', { name: 'Roll back' })).toHaveCount(0);
});
