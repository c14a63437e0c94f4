import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import pg from 'pg';
import { E2E_ADMIN, E2E_PG_PORT, E2E_RESTORE_DATABASE, SCREENSHOTS } from './platform';
import { guardPages, openSection, signIn } from './session';

const guards = guardPages();

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
  expect(guards.dialogs).toEqual([]);
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

/** The list shows a key by its first characters: `bc_live_` and four more. */
const shownPrefix = (key: string) => key.slice(0, 'bc_live_'.length + 4);

test('rotating an API key shows the new key once; the old one works through its grace period only', async ({
  page,
  request,
}) => {
  const works = async (key: string) =>
    (await request.get('/api/trpc/auth.me', { headers: { authorization: `Bearer ${key}` } })).status();

  await signIn(page);
  await openSection(page, 'API keys');
  const name = `rotated key ${Date.now()}`;
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create key' }).click();
  const created = page.getByRole('dialog', { name: 'Your new API key' });
  const first = (await created.getByTestId('new-api-key').textContent()) ?? '';
  await created.getByRole('button', { name: 'Close' }).click();

  // Rotation with an hour of grace: both keys answer.
  const rowOf = (key: string) => page.getByRole('row').filter({ hasText: shownPrefix(key) });
  await rowOf(first)
    .getByRole('button', { name: `Rotate API key ${name}` })
    .click();
  const rotate = page.getByRole('dialog', { name: `Rotate the API key “${name}”` });
  await expect(rotate.getByLabel('The old key keeps working for')).toBeFocused();
  await rotate.getByLabel('The old key keeps working for').selectOption({ label: 'one hour' });
  await rotate.getByRole('button', { name: 'Rotate' }).click();
  const rotated = page.getByRole('dialog', { name: 'Your rotated API key' });
  await expect(rotated).toBeVisible();
  const second = (await rotated.getByTestId('new-api-key').textContent()) ?? '';
  expect(second).toMatch(/^bc_live_/);
  expect(second).not.toBe(first);
  await page.screenshot({ path: `${SCREENSHOTS}/api-key-rotated.png` });
  await rotated.getByRole('button', { name: 'Close' }).click();
  await expect(rowOf(second)).toContainText(name);
  expect(await works(first)).toBe(200);
  expect(await works(second)).toBe(200);

  // Rotation without grace: the key it replaces stops at once.
  await rowOf(second)
    .getByRole('button', { name: `Rotate API key ${name}` })
    .click();
  await page
    .getByRole('dialog', { name: `Rotate the API key “${name}”` })
    .getByLabel('The old key keeps working for')
    .selectOption({ label: 'no time: it stops now' });
  await page
    .getByRole('dialog', { name: `Rotate the API key “${name}”` })
    .getByRole('button', { name: 'Rotate' })
    .click();
  const third =
    (await page
      .getByRole('dialog', { name: 'Your rotated API key' })
      .getByTestId('new-api-key')
      .textContent()) ?? '';
  await page
    .getByRole('dialog', { name: 'Your rotated API key' })
    .getByRole('button', { name: 'Close' })
    .click();
  expect(await works(third)).toBe(200);
  await expect.poll(() => works(second)).toBe(401);
  expect(await works(first)).toBe(200);
});

test('a backup restores into another database after confirmation, with its rows', async ({ page }) => {
  const dataDir = process.env.E2E_DATA_DIR;
  if (!dataDir) throw new Error('E2E_DATA_DIR is set by global setup');
  const password = readFileSync(join(dataDir, 'postgres.password'), 'utf8').trim();
  // The one database the platform's BACKUP_RESTORE_TARGETS allows (global-setup.ts), made empty.
  const database = E2E_RESTORE_DATABASE;
  const admin = new pg.Client({
    host: '127.0.0.1',
    port: E2E_PG_PORT,
    user: 'postgres',
    password,
    database: 'postgres',
  });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  const targetUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${E2E_PG_PORT}/${database}`;

  await signIn(page);
  await openSection(page, 'Backups');
  await page.getByRole('button', { name: 'Create backup' }).click();
  const newest = page.getByRole('table', { name: 'Backups' }).locator('tbody tr').first();
  await expect(newest).toContainText('succeeded', { timeout: 30_000 });

  const restore = async (confirm: boolean) => {
    await newest.getByRole('button', { name: /Restore backup/ }).click();
    const dialog = page.getByRole('dialog', { name: /Restore the backup/ });
    await dialog.getByLabel('Target database URL').fill(targetUrl);
    await dialog.getByLabel('Replace the data the target database holds').setChecked(confirm);
    await dialog.getByRole('button', { name: 'Restore' }).click();
    return dialog;
  };
  // An empty database takes the backup without the box ticked.
  await restore(false);
  const done = page.getByRole('dialog', { name: 'Backup restored' });
  await expect(done.getByTestId('restore-result')).toContainText(`into ${database}`, { timeout: 30_000 });
  await done.getByRole('button', { name: 'Close' }).click();

  // Now it holds data: the dialog stays open with the server's refusal until the box is ticked.
  const refused = await restore(false);
  await expect(refused.getByRole('alert')).toContainText(/confirm/i);
  await refused.getByLabel('Replace the data the target database holds').check();
  await page.screenshot({ path: `${SCREENSHOTS}/backup-restore-confirm.png` });
  await refused.getByRole('button', { name: 'Restore' }).click();
  await expect(done.getByTestId('restore-result')).toContainText('replacing the data it held', {
    timeout: 30_000,
  });
  await page.screenshot({ path: `${SCREENSHOTS}/backup-restored.png` });
  await done.getByRole('button', { name: 'Close' }).click();

  // The restored database holds the platform's data: the admin who signed in is there.
  const check = new pg.Client({ connectionString: targetUrl });
  await check.connect();
  try {
    const users = await check.query('SELECT email FROM users WHERE email = $1', [E2E_ADMIN.email]);
    expect(users.rowCount).toBe(1);
  } finally {
    await check.end();
  }
});
