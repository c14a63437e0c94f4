import { expect, type Page, test } from '@playwright/test';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, signIn } from './session';

/**
 * A key made with the dashboard's form (scopes chosen, least privilege by default, expiry, uses,
 * a named rate limit), its secret copied, used by a client, and its page showing those calls by
 * outcome (issue 15, Unkey's per-key usage).
 */
guardPages();
test.use({ permissions: ['clipboard-read', 'clipboard-write'] });

const SCOPE_BOXES = ['system:read', 'auth:read', 'auth:write', 'devops:read', 'performance:write'];

function createForm(page: Page) {
  return page.getByRole('form', { name: 'Create an API key' });
}

test('a key made with chosen scopes, expiry, uses and a rate limit; its secret copied; its calls on its page by outcome', async ({
  page,
  request,
}) => {
  await signIn(page);
  await openSection(page, 'API keys');
  const form = createForm(page);
  // Least privilege: no scope is ticked for a new key.
  for (const scope of SCOPE_BOXES) await expect(form.getByLabel(scope, { exact: true })).not.toBeChecked();

  const name = `usage key ${Date.now()}`;
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Environment').selectOption('test');
  await form.getByLabel('auth:read', { exact: true }).check();
  const expires = new Date(Date.now() + 30 * 86_400_000);
  const local = new Date(expires.getTime() - expires.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await form.getByLabel('Expires (optional)').fill(local);
  await form.getByLabel('Uses allowed (optional)').fill('5');
  await form.getByRole('button', { name: 'Add a rate limit' }).click();
  await form.getByLabel('Rate limit 1 name').fill('burst');
  await form.getByLabel('Rate limit 1 requests').fill('3');
  await form.getByLabel('Rate limit 1 period').selectOption({ label: 'per hour' });
  await form.screenshot({ path: `${SCREENSHOTS}/api-key-form.png` });
  await form.getByRole('button', { name: 'Create key' }).click();

  const dialog = page.getByRole('dialog', { name: 'Your new API key' });
  const key = (await dialog.getByTestId('new-api-key').textContent()) ?? '';
  expect(key).toMatch(/^bc_test_/);
  await dialog.getByRole('button', { name: 'Copy key' }).click();
  await expect(dialog.getByRole('status')).toHaveText('Copied to the clipboard.');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
  await dialog.getByRole('button', { name: 'Close' }).click();

  // A client calls with the key: three admitted, one over the limit, one outside its scopes.
  const call = async (path: string) =>
    (await request.get(`/api/trpc/${path}`, { headers: { 'x-api-key': key } })).status();
  expect(await call('system.annotations.list')).toBe(403);
  for (let i = 0; i < 3; i++) expect(await call('auth.apiKeys.list')).toBe(200);
  expect(await call('auth.apiKeys.list')).toBe(429);

  await page.getByRole('link', { name, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: `API key “${name}”` })).toBeVisible();
  await expect(page.getByTestId('usage-total-valid')).toHaveText('3');
  await expect(page.getByTestId('usage-total-rate_limited')).toHaveText('1');
  await expect(page.getByTestId('usage-total-insufficient_scope')).toHaveText('1');
  await expect(page.getByTestId('usage-total-revoked')).toHaveText('0');
  await expect(page.getByTestId('usage-remaining')).toHaveText('2');
  await expect(page.getByTestId('usage-last-used')).not.toHaveText('never');
  // The chart is drawn, and its table holds the bucket with the calls.
  await expect(page.getByTestId('usage-chart').locator('canvas')).toBeVisible();
  const bucket = page.getByRole('table', { name: 'Verifications per bucket' }).locator('tbody tr').first();
  await expect(bucket).toContainText('3');
  await page.screenshot({ path: `${SCREENSHOTS}/api-key-usage.png`, fullPage: true });

  // The edit form starts from the key's own settings.
  await page.getByRole('button', { name: 'Edit settings' }).click();
  const edit = page.getByRole('dialog', { name: `Edit the API key “${name}”` });
  await expect(edit.getByLabel('auth:read', { exact: true })).toBeChecked();
  await expect(edit.getByLabel('auth:write', { exact: true })).not.toBeChecked();
  await expect(edit.getByLabel('Rate limit 1 name')).toHaveValue('burst');
  await expect(edit.getByLabel('Uses allowed (optional)')).toHaveValue('2');
  await edit.getByLabel('Uses allowed (optional)').fill('10');
  await edit.getByLabel('Rate limit 1 requests').fill('100');
  await edit.getByRole('button', { name: 'Save' }).click();
  await expect(edit).toBeHidden();
  await expect(page.getByTestId('usage-remaining')).toHaveText('10');
  await expect(page.getByText('burst: 100 per hour')).toBeVisible();
});
