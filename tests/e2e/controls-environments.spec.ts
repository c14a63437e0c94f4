import { expect, type Locator, type Page, test } from '@playwright/test';
import { accessToken, createMember } from './api-calls';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, separateBrowsers, signIn } from './session';

/**
 * Environments from the dashboard: an admin creates one, sets values and a secret (whose value
 * is never shown back), changes them, compares two revisions and rolls back; a viewer reads the
 * configuration without the controls or the history.
 */
const guards = guardPages();
const secondBrowser = separateBrowsers(guards);

const SECRET = 'e2e-secret-value-never-shown-1';
const NEW_SECRET = 'e2e-secret-value-never-shown-2';

/** The row of the configuration form holding `key` (a value or a secret). */
function rowOf(form: Locator, key: string): Locator {
  return form
    .locator('[data-value-row], [data-secret-row]')
    .filter({ has: form.page().locator(`input[value="${key}"]`) });
}

async function addValue(form: Locator, key: string, type: 'string' | 'number' | 'boolean', value: string) {
  await form.getByRole('button', { name: 'Add a value' }).click();
  const row = form.locator('[data-value-row]').last();
  await row.getByLabel('Key').fill(key);
  await row.getByLabel('Type').selectOption(type);
  await row.getByLabel('Value', { exact: true }).fill(value);
}

async function openEnvironment(page: Page, name: string): Promise<Locator> {
  await page.getByRole('button', { name: `Open environment ${name}`, exact: true }).click();
  const detail = page.getByTestId('environment-detail');
  await expect(detail.getByRole('heading', { level: 2 })).toContainText(name);
  return detail;
}

test('an environment is created, configured, compared between revisions and rolled back', async ({
  page,
  browser,
  request,
}) => {
  const name = `e2e-${Date.now()}`;
  await signIn(page);
  await openSection(page, 'Environments');
  await page.getByRole('button', { name: 'New environment' }).click();
  const create = page.getByRole('dialog', { name: 'New environment' });
  await create.getByLabel('Name', { exact: true }).fill(name);
  await create.getByLabel('Description').fill('made by the browser test');
  await create.getByRole('button', { name: 'Create environment' }).click();
  await expect(create).toBeHidden();
  const detail = page.getByTestId('environment-detail');
  await expect(detail.getByRole('heading', { level: 2 })).toHaveText(`${name}: revision 1`);
  await expect(page.getByRole('table', { name: 'Environments' })).toContainText(name);

  // Revision 2: two values and a secret.
  await detail.getByRole('button', { name: 'Edit configuration' }).click();
  const form = page.getByRole('dialog', { name: `Configuration of ${name}` });
  await addValue(form, 'LOG_LEVEL', 'string', 'info');
  await addValue(form, 'WORKERS', 'number', '3');
  await form.getByRole('button', { name: 'Add a secret' }).click();
  const secretRow = form.locator('[data-secret-row]').last();
  await secretRow.getByLabel('Secret').fill('DATABASE_PASSWORD');
  await secretRow.getByLabel('Value', { exact: true }).fill(SECRET);
  await form.getByLabel('What changed and why').fill('first settings');
  await form.getByRole('button', { name: 'Save as a new revision' }).click();
  await expect(form).toBeHidden();
  await expect(detail.getByRole('heading', { level: 2 })).toHaveText(`${name}: revision 2`);
  await expect(detail.getByRole('table', { name: 'Values', exact: true })).toContainText('LOG_LEVEL');
  await expect(detail.getByRole('table', { name: 'Values', exact: true })).toContainText('3');
  const secrets = detail.getByRole('table', { name: 'Secrets (values never shown)' });
  await expect(secrets).toContainText('DATABASE_PASSWORD');
  await expect(secrets).toContainText('[redacted]');

  // Revision 3: one value changed, the secret replaced; its field starts empty, never filled.
  await detail.getByRole('button', { name: 'Edit configuration' }).click();
  await expect(rowOf(form, 'DATABASE_PASSWORD').getByLabel('New value')).toHaveValue('');
  await rowOf(form, 'LOG_LEVEL').getByLabel('Value', { exact: true }).fill('warn');
  await rowOf(form, 'DATABASE_PASSWORD').getByLabel('New value').fill(NEW_SECRET);
  await form.getByLabel('What changed and why').fill('quieter logs, new password');
  await form.getByRole('button', { name: 'Save as a new revision' }).click();
  await expect(form).toBeHidden();
  await expect(detail.getByRole('heading', { level: 2 })).toHaveText(`${name}: revision 3`);

  // The diff of 2 → 3: the value with both sides, the secret by name only.
  await detail.getByLabel('From revision', { exact: true }).selectOption('2');
  await detail.getByLabel('To revision', { exact: true }).selectOption('3');
  await detail.getByRole('button', { name: 'Compare' }).click();
  const diff = detail.getByRole('table', { name: 'Changes from revision 2 to revision 3' });
  const level = diff.getByRole('row').filter({ hasText: 'LOG_LEVEL' });
  await expect(level).toContainText('changed');
  await expect(level).toContainText('info');
  await expect(level).toContainText('warn');
  await expect(diff.getByRole('row').filter({ hasText: 'DATABASE_PASSWORD' })).toContainText('value hidden');
  await expect(diff.getByRole('row')).toHaveCount(3);
  await diff.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}/environment-diff.png`, fullPage: true });
  expect(await page.content()).not.toContain(SECRET);
  expect(await page.content()).not.toContain(NEW_SECRET);

  // Back to revision 2, as revision 4.
  await detail.getByRole('button', { name: `Roll back ${name} to revision 2` }).click();
  const rollback = page.getByRole('dialog', { name: `Roll ${name} back to revision 2` });
  await rollback.getByLabel('Why').fill('warn hid a problem');
  await rollback.getByRole('button', { name: 'Roll back' }).click();
  await expect(rollback).toBeHidden();
  await expect(detail.getByRole('heading', { level: 2 })).toHaveText(`${name}: revision 4`);
  await expect(
    detail
      .getByRole('table', { name: 'Values', exact: true })
      .getByRole('row')
      .filter({ hasText: 'LOG_LEVEL' }),
  ).toContainText('info');
  await expect(detail.getByRole('table', { name: 'Revisions, newest first' })).toContainText(
    'restores revision 2',
  );

  // A change against a revision that is no longer current is refused, not silently merged.
  await detail.getByRole('button', { name: 'Edit configuration' }).click();
  const token = await accessToken(request);
  const other = await request.post('/api/trpc/devops.environments.setConfig', {
    headers: { authorization: `Bearer ${token}` },
    data: { name, values: { LOG_LEVEL: 'error' }, message: 'meanwhile' },
  });
  expect(other.ok(), await other.text()).toBe(true);
  await rowOf(form, 'LOG_LEVEL').getByLabel('Value', { exact: true }).fill('debug');
  await form.getByRole('button', { name: 'Save as a new revision' }).click();
  await expect(form.getByRole('alert')).not.toBeEmpty();
  await form.getByRole('button', { name: 'Close' }).click();

  // Side by side with staging: what only this one has, the secret by name.
  const compare = page.getByRole('form', { name: 'Compare two environments' });
  await compare.getByLabel('Environment').selectOption(name);
  await compare.getByLabel('with').selectOption('staging');
  await compare.getByRole('button', { name: 'Compare environments' }).click();
  const sideBySide = page.getByTestId('environment-comparison');
  await expect(sideBySide.getByRole('row').filter({ hasText: 'LOG_LEVEL' })).toContainText(`only in ${name}`);
  await expect(sideBySide.getByRole('row').filter({ hasText: 'DATABASE_PASSWORD' })).toContainText(
    'value hidden',
  );

  // A viewer reads the configuration, redacted, without the controls or the history.
  const viewer = await createMember(request, token, 'viewer');
  const viewerPage = await secondBrowser(browser);
  await signIn(viewerPage, viewer);
  await openSection(viewerPage, 'Environments');
  const seen = await openEnvironment(viewerPage, name);
  await expect(seen.getByRole('table', { name: 'Secrets (values never shown)' })).toContainText('[redacted]');
  await expect(viewerPage.getByRole('button', { name: 'New environment' })).toHaveCount(0);
  await expect(seen.getByRole('button', { name: 'Edit configuration' })).toHaveCount(0);
  await expect(seen.getByRole('table', { name: 'Revisions, newest first' })).toHaveCount(0);
  await expect(viewerPage.getByRole('form', { name: 'Compare two environments' })).toHaveCount(0);
});
