import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN, SCREENSHOTS } from './platform';

/** Every page: a JavaScript dialog (alert, confirm) means injected code ran, and fails the test. */
let dialogs: string[] = [];
/** The CSP allows nothing inline: a violation means the build or the code relies on it. */
let cspViolations: string[] = [];
test.beforeEach(({ page }) => {
  dialogs = [];
  cspViolations = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text()))
      cspViolations.push(message.text());
  });
  page.on('dialog', (dialog) => {
    dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
});
test.afterEach(() => {
  expect(dialogs, 'no alert, confirm or prompt may open').toEqual([]);
  expect(cspViolations, 'no Content-Security-Policy violation').toEqual([]);
});

async function signIn(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email').fill(E2E_ADMIN.email);
  await page.getByLabel('Password').fill(E2E_ADMIN.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
}

async function openSection(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}

test('signing in shows the overview; a wrong password is refused with a message', async ({ page }) => {
  await page.goto('/');
  await page.getByLabel('Email').fill(E2E_ADMIN.email);
  await page.getByLabel('Password').fill('not-the-password-at-all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).not.toBeEmpty();
  await page.screenshot({ path: `${SCREENSHOTS}/login-refused.png` });

  await signIn(page);
  // The access token lives in memory only: the refresh cookie restores the session on reload.
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
});

test('the overview shows live numbers that change with traffic, at 1280 and 390 px', async ({
  page,
  request,
}) => {
  await signIn(page);
  const requests = page.getByTestId('stat-requests');
  await expect(requests).toHaveText(/^\d+$/);
  const before = Number(await requests.textContent());
  for (let i = 0; i < 20; i++) expect((await request.get('/api/trpc/system.info')).ok()).toBe(true);
  await expect
    .poll(async () => Number(await requests.textContent()), { timeout: 10_000 })
    .toBeGreaterThan(before + 20);
  await expect(page.getByTestId('stat-health')).toHaveText(/pass|warn/);
  await expect(page.getByRole('table', { name: 'Components and their status' })).toBeVisible();
  await expect(page.locator('.uplot')).toHaveCount(3);
  await page.screenshot({ path: `${SCREENSHOTS}/overview-1280.png`, fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByTestId('stat-requests')).toBeVisible();
  // Nothing wider than the screen: the layout stacks instead of scrolling sideways.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${SCREENSHOTS}/overview-390.png`, fullPage: true });
});

test('an API key is shown once in a dialog, listed by prefix only, and revoked', async ({ page }) => {
  await signIn(page);
  await openSection(page, 'API keys');
  const name = `e2e key ${Date.now()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create key' }).click();

  const dialog = page.getByRole('dialog', { name: 'Your new API key' });
  await expect(dialog).toBeVisible();
  const key = (await dialog.getByTestId('new-api-key').textContent()) ?? '';
  expect(key.length).toBeGreaterThan(20);
  await page.screenshot({ path: `${SCREENSHOTS}/api-key-created.png` });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(dialog).toBeHidden();
  // Focus returns to what opened the dialog.
  await expect(page.getByRole('button', { name: 'Create key' })).toBeFocused();

  const row = page.getByRole('row').filter({ hasText: name });
  await expect(row).toBeVisible();
  await expect(row).toContainText('active');
  // Once closed, the key itself is nowhere on the page.
  await expect(page.getByText(key)).toHaveCount(0);

  await row.getByRole('button', { name: `Revoke API key ${name}` }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
  await expect(row.getByRole('button', { name: /Revoke/ })).toHaveCount(0);
  await page.screenshot({ path: `${SCREENSHOTS}/api-key-revoked.png`, fullPage: true });
});

test('an API key named with markup renders as text and runs nothing', async ({ page }) => {
  await signIn(page);
  await openSection(page, 'API keys');
  const name = '<img src=x onerror=alert(1)>';
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Your new API key' });
  await expect(dialog.getByText(name, { exact: true })).toBeVisible();
  await dialog.getByRole('button', { name: 'Close' }).click();

  await expect(page.getByRole('cell', { name, exact: true }).first()).toBeVisible();
  // Had the name become markup, an <img> would exist and its onerror would have opened an alert.
  await expect(page.locator('main img, dialog img')).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(dialogs).toEqual([]);
  await page.screenshot({ path: `${SCREENSHOTS}/api-key-markup-name.png`, fullPage: true });
});

test('a backup is created, succeeds and verifies', async ({ page }) => {
  await signIn(page);
  await openSection(page, 'Backups');
  const rows = page.getByRole('table', { name: 'Backups' }).getByRole('row');
  const before = await rows
    .filter({ has: page.getByRole('cell') })
    .filter({ hasNotText: 'None yet' })
    .count();
  await page.getByRole('button', { name: 'Create backup' }).click();
  const newest = page.getByRole('table', { name: 'Backups' }).locator('tbody tr').first();
  await expect
    .poll(async () =>
      rows
        .filter({ has: page.getByRole('cell') })
        .filter({ hasNotText: 'None yet' })
        .count(),
    )
    .toBe(before + 1);
  await expect(newest).toContainText('succeeded', { timeout: 30_000 });

  await newest.getByRole('button', { name: /Verify backup/ }).click();
  const dialog = page.getByRole('dialog', { name: 'Backup verified' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByTestId('verify-result')).toHaveText(/matches/);
  await page.screenshot({ path: `${SCREENSHOTS}/backup-verified.png` });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(newest.getByRole('cell').nth(5)).not.toHaveText('–');
});
