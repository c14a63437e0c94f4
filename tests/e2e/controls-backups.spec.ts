import { expect, type Page, test } from '@playwright/test';
import { accessToken, createMember } from './api-calls';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, separateBrowsers, signIn } from './session';

/**
 * Backup schedules and deletion from the Backups page: a platform admin creates a schedule,
 * pauses and resumes it, changes its retention and deletes it, and deletes a backup after
 * confirming; a platform operator sees the schedules without those controls.
 */
const guards = guardPages();
const secondBrowser = separateBrowsers(guards);

function scheduleRow(page: Page, cron: string) {
  return page.getByRole('table', { name: 'Backup schedules' }).getByRole('row').filter({ hasText: cron });
}

async function confirm(page: Page, label: string): Promise<void> {
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: label }).click();
}

test('a schedule is created, paused, resumed, given a new retention and deleted', async ({
  page,
  browser,
  request,
}) => {
  // A minute nobody else uses, so the row is this test's.
  const cron = `${new Date().getUTCSeconds()} 4 * * 1`;
  await signIn(page);
  await openSection(page, 'Backups');
  await page.getByRole('button', { name: 'New schedule' }).click();
  const form = page.getByRole('dialog', { name: 'New backup schedule' });
  await form.getByLabel('When (cron, UTC)').fill(cron);
  await form.getByLabel('Keep the newest (backups)').fill('5');
  await form.getByRole('button', { name: 'Create schedule' }).click();
  await expect(form).toBeHidden();
  const row = scheduleRow(page, cron);
  await expect(row).toContainText('active');
  await expect(row).toContainText('newest 5');

  await row.getByRole('button', { name: `Pause schedule ${cron}` }).click();
  await expect(row).toContainText('paused');
  await row.getByRole('button', { name: `Resume schedule ${cron}` }).click();
  await expect(row).toContainText('active');

  await row.getByRole('button', { name: `Edit schedule ${cron}` }).click();
  const edit = page.getByRole('dialog', { name: `Edit the schedule ${cron}` });
  await edit.getByLabel('Keep the newest (backups)').fill('10');
  await edit.getByLabel('Keep those younger than (days)').fill('30');
  await edit.getByRole('button', { name: 'Save schedule' }).click();
  await expect(edit).toBeHidden();
  await expect(row).toContainText('newest 10 or 30 days');
  await page.getByRole('heading', { name: 'Schedules' }).scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}/backup-schedules.png`, fullPage: true });

  // A malformed cron is the server's to refuse; the form stays open with its reason.
  await row.getByRole('button', { name: `Edit schedule ${cron}` }).click();
  await edit.getByLabel('When (cron, UTC)').fill('every tuesday');
  await edit.getByRole('button', { name: 'Save schedule' }).click();
  await expect(edit.getByRole('alert')).not.toBeEmpty();
  await edit.getByRole('button', { name: 'Close' }).click();
  await expect(row).toContainText(cron);

  // A platform operator reads schedules but has no control over them.
  const operator = await createMember(request, await accessToken(request), 'viewer', 'operator');
  const operatorPage = await secondBrowser(browser);
  await signIn(operatorPage, operator);
  await openSection(operatorPage, 'Backups');
  await expect(scheduleRow(operatorPage, cron)).toContainText('newest 10 or 30 days');
  await expect(operatorPage.getByRole('button', { name: 'New schedule' })).toHaveCount(0);
  await expect(operatorPage.getByRole('button', { name: /Delete/ })).toHaveCount(0);
  await expect(operatorPage.getByText('Only platform admins change schedules.')).toBeVisible();

  await row.getByRole('button', { name: `Delete schedule ${cron}` }).click();
  await confirm(page, 'Delete schedule');
  await expect(row).toHaveCount(0);
});

test('a backup is deleted once confirmed, and kept when not', async ({ page }) => {
  await signIn(page);
  await openSection(page, 'Backups');
  await page.getByRole('button', { name: 'Create backup' }).click();
  const newest = page.getByRole('table', { name: 'Backups' }).locator('tbody tr').first();
  await expect(newest).toContainText('succeeded', { timeout: 30_000 });
  const label = (await newest.getByRole('cell').first().textContent()) ?? '';
  const named = page.getByRole('button', { name: `Delete backup of ${label}` });

  await named.click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Close' }).click();
  await expect(named).toHaveCount(1);

  await named.click();
  await confirm(page, 'Delete backup');
  await expect(named).toHaveCount(0);
});
