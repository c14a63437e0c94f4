import { expect, type Page, test } from '@playwright/test';
import { accessToken, call, createMember } from './api-calls';
import { E2E_ADMIN, SCREENSHOTS } from './platform';
import { guardPages, openSection, signIn } from './session';

/**
 * The audit log as an admin reads it: names instead of ids, details as name: value, filters by
 * actor, event and time that the server applies, and pages of 50.
 */
guardPages();

function auditTable(page: Page) {
  return page.getByRole('table', { name: /Audit events, newest first/ });
}

/** The body rows of the table on screen. */
function rows(page: Page) {
  return auditTable(page).locator('tbody tr');
}

async function apply(page: Page): Promise<void> {
  await page
    .getByRole('form', { name: 'Filter the audit log' })
    .getByRole('button', { name: 'Apply' })
    .click();
}

test('the audit log names actors and targets, filters on the server and pages', async ({ page, request }) => {
  const token = await accessToken(request);
  // More events of one type than a page holds: 55 configuration changes.
  const environment = `audit-${Date.now()}`;
  await call(request, token, 'devops.environments.create', { name: environment });
  for (let i = 0; i < 55; i++)
    await call(request, token, 'devops.environments.setConfig', {
      name: environment,
      values: { STEP: i },
      message: `change ${i}`,
    });
  // A change made with an API key, so the key is an actor.
  const keyName = `audit key ${Date.now()}`;
  const issued = await call<{ key: string; apiKey: { id: string } }>(request, token, 'auth.apiKeys.create', {
    name: keyName,
    scopes: ['devops:write'],
  });
  await call(request, issued.key, 'devops.environments.create', { name: `${environment}-key` });
  // Then, on the first page: a member made by the admin, who signs in.
  const member = await createMember(request, token, 'viewer');
  await accessToken(request, member);

  await signIn(page);
  await openSection(page, 'Audit log');
  // Names, not ids: the member's creation by the admin, with its details in words.
  const created = rows(page).filter({ hasText: 'User created' }).filter({ hasText: member.name });
  await expect(created).toHaveCount(1);
  await expect(created).toContainText(E2E_ADMIN.email);
  await expect(created).toContainText(`user ${member.name}`);
  await expect(created).not.toContainText(member.id);
  await expect(auditTable(page).getByRole('cell').filter({ hasText: '{"' })).toHaveCount(0);
  const changed = rows(page).filter({ hasText: 'Config changed' }).first();
  await expect(changed.locator('dl.details')).toContainText('revision');
  await page.screenshot({ path: `${SCREENSHOTS}/audit-log.png`, fullPage: false });

  // By actor: the member's own sign-in, and nothing of anyone else.
  const filters = page.getByRole('form', { name: 'Filter the audit log' });
  await filters.getByLabel('Actor').selectOption({ label: `${member.name} (${member.email})` });
  await apply(page);
  await expect(rows(page).filter({ hasText: 'Signed in' })).toHaveCount(1);
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page)).toContainText(member.name);

  // By API key: what was done with it, named by the key.
  await filters.getByLabel('Actor').selectOption(`key:${issued.apiKey.id}`);
  await apply(page);
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page)).toContainText(`with key ${keyName}`);
  await expect(rows(page)).toContainText(`environment ${environment}-key`);

  // By event type.
  await filters.getByLabel('Actor').selectOption({ label: 'Anyone' });
  await filters.getByLabel('Event').selectOption({ label: 'User created' });
  await apply(page);
  await expect(rows(page).first()).toContainText('User created');
  const events = await rows(page).locator('td:nth-child(2)').allTextContents();
  expect(new Set(events)).toEqual(new Set(['User created']));

  // By time: nothing happened before an hour ago in this fresh platform... at least not this member.
  await filters.getByLabel('Event').selectOption({ label: 'Every event' });
  await filters.getByLabel('Actor').selectOption({ label: `${member.name} (${member.email})` });
  await filters.getByLabel('When').selectOption('Custom');
  const hourAgo = new Date(Date.now() - 3_600_000);
  const local = new Date(hourAgo.getTime() - hourAgo.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await filters.getByLabel('Until').fill(local);
  await apply(page);
  await expect(rows(page)).toHaveCount(1);
  await expect(rows(page)).toContainText('None yet');
  // A range the wrong way round is refused by the server, with its reason.
  await filters
    .getByLabel('From')
    .fill(new Date(Date.now() - hourAgo.getTimezoneOffset() * 60_000).toISOString().slice(0, 16));
  await apply(page);
  await expect(page.getByRole('alert').filter({ hasText: 'must be after since' })).toBeVisible();

  // Pages of 50: the 55 changes span two.
  await filters.getByLabel('Actor').selectOption({ label: 'Anyone' });
  await filters.getByLabel('Event').selectOption({ label: 'Config changed' });
  await filters.getByLabel('When').selectOption('Last hour');
  await apply(page);
  await expect(auditTable(page)).toHaveAccessibleName(/page 1/);
  await expect(rows(page)).toHaveCount(50);
  const pages = page.getByRole('navigation', { name: 'Pages' });
  await expect(pages.getByRole('button', { name: 'Newer' })).toBeDisabled();
  await pages.getByRole('button', { name: 'Older' }).click();
  await expect(auditTable(page)).toHaveAccessibleName(/page 2/);
  expect(await rows(page).count()).toBeGreaterThanOrEqual(5);
  await pages.getByRole('button', { name: 'Newer' }).click();
  await expect(auditTable(page)).toHaveAccessibleName(/page 1/);
  await expect(rows(page)).toHaveCount(50);
});

test('an organization admin who is no platform operator has no platform log to choose', async ({
  page,
  request,
}) => {
  const admin = await createMember(request, await accessToken(request), 'admin');
  await signIn(page, admin);
  await openSection(page, 'Audit log');
  await expect(auditTable(page)).toBeVisible();
  await expect(page.getByRole('form', { name: 'Filter the audit log' }).getByLabel('Log')).toHaveCount(0);
});
