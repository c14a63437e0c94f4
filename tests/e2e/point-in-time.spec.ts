import { expect, type Page, test } from '@playwright/test';
import { accessToken, createMember } from './api-calls';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, separateBrowsers, signIn } from './session';

/**
 * Point-in-time recovery on the Backups page (global-setup.ts runs the platform with BACKUP_PITR
 * on): a platform admin sees the first base backup, taken at start, takes another, and reads the
 * recoverable window and WAL archiving's figures; a platform operator reads them without the
 * button.
 */
const guards = guardPages();
const secondBrowser = separateBrowsers(guards);

function section(page: Page) {
  return page.getByRole('region', { name: 'Point-in-time recovery' });
}

/** The rows of the base backups table that are base backups (not its "None yet" row). */
function baseBackups(page: Page) {
  return section(page)
    .getByRole('table', { name: 'Base backups' })
    .locator('tbody tr')
    .filter({ has: page.locator('code') });
}

test('an admin takes a base backup and reads the window and WAL archiving; an operator only reads', async ({
  page,
  browser,
  request,
}) => {
  // Each base backup streams the whole data directory.
  test.setTimeout(180_000);
  await signIn(page);
  await openSection(page, 'Backups');
  const pitr = section(page);
  await expect(pitr).toBeVisible();
  // The platform takes the first base backup in the background at start.
  await expect(baseBackups(page)).toHaveCount(1, { timeout: 60_000 });

  await pitr.getByRole('button', { name: 'Take base backup' }).click();
  await expect(pitr.getByTestId('pitr-notice')).toContainText('Base backup taken', { timeout: 60_000 });
  await expect(baseBackups(page)).toHaveCount(2);
  await expect(baseBackups(page).first()).toContainText(/[0-9A-F]{24}/);
  await expect(pitr.getByTestId('pitr-window')).toHaveText(/^Recoverable from .+ to about .+\.$/);
  await expect(pitr.getByTestId('pitr-wal-stored')).toHaveText(/^[1-9]\d* \(\d/);
  await expect(pitr.getByTestId('pitr-wal-failures')).toHaveText('0');
  await expect(pitr.getByTestId('pitr-wal-server')).toContainText(/^[1-9]\d* files, the last [0-9A-F]{24}/);
  await expect(pitr.getByTestId('pitr-next')).toContainText('Next scheduled base backup:');
  await expect(pitr.getByTestId('pitr-recover-command')).toHaveText(
    'npm run db:recover -- --to <time> --data-dir <dir>',
  );
  await expect(pitr.getByRole('button', { name: 'Take base backup' })).toBeEnabled();
  await pitr.scrollIntoViewIfNeeded();
  await pitr.screenshot({ path: `${SCREENSHOTS}/point-in-time.png` });

  // A platform operator reads the same section, without the button.
  const operator = await createMember(request, await accessToken(request), 'viewer', 'operator');
  const operatorPage = await secondBrowser(browser);
  await signIn(operatorPage, operator);
  await openSection(operatorPage, 'Backups');
  await expect(baseBackups(operatorPage)).toHaveCount(2);
  await expect(section(operatorPage).getByTestId('pitr-window')).toContainText('Recoverable from');
  await expect(operatorPage.getByRole('button', { name: 'Take base backup' })).toHaveCount(0);
  await expect(operatorPage.getByText('Only platform admins take base backups.')).toBeVisible();
});
