import { expect, test } from '@playwright/test';
import { type DeploymentReceiver, startDeploymentReceiver } from '../helpers/deployment-receiver';
import { accessToken, call } from './api-calls';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, signIn } from './session';

/**
 * A provider's secret taken from the deployment's environment, chosen in the "Start deployment"
 * form: the receiver accepts only calls signed with the staging environment's secret, so a
 * deployment that reaches it used that secret; started again from the provider it used, the form
 * comes with the secret's name chosen and nothing to type.
 */
const SECRET_NAME = 'DEPLOY_WEBHOOK_SECRET';
const secret = `e2e-environment-secret-${Date.now()}`;
let receiver: DeploymentReceiver;
test.beforeAll(async () => {
  receiver = await startDeploymentReceiver(secret);
});
test.afterAll(() => receiver?.close());

guardPages();

test('a webhook provider signs with a secret of the environment chosen in the form, and is reused without typing it', async ({
  page,
  request,
}) => {
  const token = await accessToken(request);
  await call(request, token, 'devops.environments.setConfig', {
    name: 'staging',
    secrets: { [SECRET_NAME]: secret },
    message: 'the deployment webhook signing secret',
  });
  const service = `ledger-${Date.now()}`;
  const version = 'v2';

  await signIn(page);
  await openSection(page, 'Deployments');
  await page.getByRole('button', { name: 'Start deployment' }).click();
  const form = page.getByRole('dialog', { name: 'Start deployment' });
  await form.getByLabel('Service', { exact: true }).fill(service);
  await expect(form.getByLabel('Environment').locator('option[value=staging]')).toHaveCount(1);
  await form.getByLabel('Environment').selectOption('staging');
  await form.getByLabel('Version', { exact: true }).fill(version);
  await form.getByLabel('Version serving now').fill('v1');
  await form.getByLabel('Strategy').selectOption('blueGreen');
  await form.getByLabel('Keep the old version up after the switch (seconds)').fill('0');
  await form.getByLabel('Configuration').selectOption('webhook');
  await form.getByLabel('Webhook URL').fill(receiver.url);
  // The secret from the environment: its names are offered, the typed secret goes away.
  await form
    .getByLabel('Secret from', { exact: true })
    .selectOption({ label: 'A secret of the environment' });
  const secretName = form.getByLabel('Name of the secret', { exact: true });
  await expect(secretName).toBeVisible();
  await expect(form.getByLabel('Signing secret')).toBeHidden();
  await expect(form.locator(`datalist option[value=${SECRET_NAME}]`)).toHaveCount(1);
  await expect(secretName).toHaveAccessibleDescription(new RegExp(`Secrets of staging: .*${SECRET_NAME}`));
  await secretName.fill(SECRET_NAME);
  // The provider's part whole, the names offered below the name.
  await form.getByLabel(/^Metrics of the new version/).scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}/deploy-environment-secret.png` });
  await form.getByRole('button', { name: 'Start deployment' }).click();
  await expect(form).toBeHidden();

  // Created, driven to the end, every call signed with staging's secret.
  const detail = page.getByTestId('deployment-detail');
  await expect(detail).toContainText(`${service} ${version} → staging`);
  await expect(detail.getByText('promoted', { exact: true })).toBeVisible({ timeout: 30_000 });
  expect(receiver.calls.length).toBeGreaterThan(0);
  const reached = receiver.calls.length;

  // Again from the provider it used: the environment's secret comes chosen, nothing to type.
  const next = 'v3';
  await page.getByRole('button', { name: 'Start deployment' }).click();
  await form.getByLabel('Service', { exact: true }).fill(service);
  await form.getByLabel('Environment').selectOption('staging');
  await form.getByLabel('Version', { exact: true }).fill(next);
  await form.getByLabel('Strategy').selectOption('blueGreen');
  await form.getByLabel('Keep the old version up after the switch (seconds)').fill('0');
  const saved = form.getByLabel('Configuration').locator('option', { hasText: receiver.url });
  await expect(saved).toHaveCount(1);
  await expect(saved).toContainText(`secret ${SECRET_NAME} of the environment`);
  await form.getByLabel('Configuration').selectOption({ label: (await saved.textContent()) ?? '' });
  await expect(form.getByLabel('Webhook URL')).toHaveValue(receiver.url);
  await expect(form.getByLabel('Secret from', { exact: true })).toHaveValue('environment');
  await expect(secretName).toHaveValue(SECRET_NAME);
  await expect(form.getByLabel('Signing secret')).toBeHidden();
  await form.getByRole('button', { name: 'Start deployment' }).click();
  await expect(form).toBeHidden();
  await expect(detail).toContainText(`${service} ${next} → staging`);
  await expect(detail.getByText('promoted', { exact: true })).toBeVisible({ timeout: 30_000 });
  expect(receiver.calls.length).toBeGreaterThan(reached);
});
