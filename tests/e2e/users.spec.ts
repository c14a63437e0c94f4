import { expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN, SCREENSHOTS } from './platform';
import { guardPages, openSection, separateBrowsers, signIn } from './session';

const guards = guardPages();
/** A page in a browser of its own (own cookies, own session), guarded like the test's page. */
const secondBrowser = separateBrowsers(guards);

interface Credentials {
  email: string;
  password: string;
}

async function confirm(page: Page, label: string): Promise<void> {
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: label }).click();
}

/** Signs in as the admin and opens this page. */
async function openAsAdmin(page: Page): Promise<void> {
  await signIn(page);
  await openSection(page, 'Users and sessions');
}

/** Creates a user through the admin's form and waits for its row. */
async function createUser(
  page: Page,
  role: 'admin' | 'operator' | 'viewer',
  name = '',
): Promise<Credentials> {
  const user = {
    email: `e2e-user-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`,
    password: 'e2e-user-password-1',
  };
  const form = page.getByRole('form', { name: 'Create a user' });
  await form.getByLabel('Email').fill(user.email);
  await form.getByLabel('Name (optional)').fill(name);
  await form.getByLabel('Initial password').fill(user.password);
  await form.getByLabel('Role').selectOption(role);
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Created ${user.email}` })).toBeVisible();
  await expect(userRow(page, user.email)).toBeVisible();
  return user;
}

function userRow(page: Page, email: string) {
  return page
    .getByRole('table', { name: 'Users of your organization' })
    .getByRole('row')
    .filter({ hasText: email });
}

/** The short id of the session a page is signed in with, as its sessions table shows it. */
async function currentSessionId(page: Page): Promise<string> {
  const row = page
    .getByRole('table', { name: 'Your sessions' })
    .getByRole('row')
    .filter({ hasText: 'this session' });
  const id = (await row.locator('code').textContent()) ?? '';
  expect(id).toMatch(/^[0-9a-f]{8}$/);
  return id;
}

/** The page's next call is refused and the dashboard asks to sign in again. */
async function expectSignedOutOnNextCall(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Refresh your sessions' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
}

test('an admin creates a user, changes its role, and sees the server refuse what it refuses', async ({
  page,
}) => {
  await openAsAdmin(page);
  const sessions = page.getByRole('table', { name: 'Your sessions' });
  await expect(sessions.getByRole('row').filter({ hasText: 'this session' })).toHaveCount(1);
  // This session is revoked only by signing out everywhere, never from its row.
  await expect(sessions.getByRole('row').filter({ hasText: 'this session' }).getByRole('button')).toHaveCount(
    0,
  );

  // The server's validation message reaches the alert region.
  const form = page.getByRole('form', { name: 'Create a user' });
  await form.getByLabel('Email').fill(`e2e-short-${Date.now()}@example.com`);
  await form.getByLabel('Initial password').fill('short');
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'at least 12 characters' })).toBeVisible();

  const user = await createUser(page, 'operator', 'E2E Operator');
  const row = userRow(page, user.email);
  await expect(row).toContainText('E2E Operator');
  await expect(row).toContainText('active');
  const role = row.getByRole('combobox', { name: `Role of ${user.email}` });
  await expect(role).toHaveValue('operator');

  await role.selectOption('viewer');
  await row.getByRole('button', { name: `Save role of ${user.email}` }).click();
  await expect(page.getByRole('status').filter({ hasText: `${user.email} is now Viewer` })).toBeVisible();
  // Stored, not only shown: a reload reads it back from the server.
  await page.reload();
  await expect(userRow(page, user.email).getByRole('combobox')).toHaveValue('viewer');

  // Nobody disables their own account: the server's refusal is shown, the row stays active.
  const me = userRow(page, E2E_ADMIN.email);
  await me.getByRole('button', { name: `Disable user ${E2E_ADMIN.email}` }).click();
  await confirm(page, 'Disable');
  await expect(
    page.getByRole('alert').filter({ hasText: 'you cannot disable your own account' }),
  ).toBeVisible();
  await expect(me).toContainText('active');
  await page.screenshot({ path: `${SCREENSHOTS}/users-and-sessions.png`, fullPage: true });

  await page.setViewportSize({ width: 390, height: 844 });
  await expect(page.getByRole('heading', { level: 2, name: 'Users' })).toBeVisible();
  // Tables scroll inside their wrappers; the page itself never scrolls sideways.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${SCREENSHOTS}/users-and-sessions-390.png`, fullPage: true });
});

test('a user named with markup renders as text and runs nothing', async ({ page }) => {
  await openAsAdmin(page);
  const name = '<img src=x onerror=alert(1)>';
  const user = await createUser(page, 'viewer', name);
  await expect(userRow(page, user.email).getByRole('cell', { name, exact: true })).toBeVisible();
  // Had the name become markup, an <img> would exist and its onerror would have opened an alert.
  await expect(page.locator('main img')).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(guards.dialogs).toEqual([]);
});

test('disabling a user ends their open session at once', async ({ page, browser }) => {
  await openAsAdmin(page);
  const user = await createUser(page, 'operator');

  const theirs = await secondBrowser(browser);
  await signIn(theirs, user);
  await openSection(theirs, 'Users and sessions');
  // Not an admin: nothing of the users section is drawn.
  await expect(theirs.getByRole('heading', { level: 2, name: 'Your sessions' })).toBeVisible();
  await expect(theirs.getByRole('heading', { level: 2, name: 'Users' })).toHaveCount(0);
  await expect(theirs.getByRole('form', { name: 'Create a user' })).toHaveCount(0);

  await userRow(page, user.email)
    .getByRole('button', { name: `Disable user ${user.email}` })
    .click();
  await confirm(page, 'Disable');
  await expect(userRow(page, user.email)).toContainText('disabled');
  await expect(userRow(page, user.email).getByRole('button', { name: /Disable/ })).toHaveCount(0);

  await expectSignedOutOnNextCall(theirs);
  // And signing in again is refused.
  await theirs.getByLabel('Email').fill(user.email);
  await theirs.getByLabel('Password').fill(user.password);
  await theirs.getByRole('button', { name: 'Sign in' }).click();
  await expect(theirs.getByRole('alert')).not.toBeEmpty();
  await expect(theirs.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
});

test('revoking another of one’s sessions signs it out on its next call', async ({ page, browser }) => {
  await openAsAdmin(page);
  const other = await secondBrowser(browser);
  await openAsAdmin(other);
  const otherId = await currentSessionId(other);
  const mine = await currentSessionId(page);
  expect(otherId).not.toBe(mine);

  // The new session shows up here once the list is read again.
  await page.getByRole('button', { name: 'Refresh your sessions' }).click();
  const sessions = page.getByRole('table', { name: 'Your sessions' });
  const row = sessions.getByRole('row').filter({ hasText: otherId });
  await row.getByRole('button', { name: `Revoke session ${otherId}` }).click();
  await confirm(page, 'Revoke');
  await expect(
    page.getByRole('status').filter({ hasText: `Session ${otherId} is signed out` }),
  ).toBeVisible();
  await expect(row).toHaveCount(0);
  // The revoking session itself carries on.
  await expect(sessions.getByRole('row').filter({ hasText: mine })).toContainText('this session');

  await expectSignedOutOnNextCall(other);
});

test('changing one’s password signs out the other sessions; signing out everywhere ends this one', async ({
  page,
  browser,
}) => {
  // The admin's password is shared by every spec: a user of its own changes theirs.
  await openAsAdmin(page);
  const user = await createUser(page, 'viewer');
  const first = await secondBrowser(browser);
  const second = await secondBrowser(browser);
  await signIn(first, user);
  await signIn(second, user);
  await openSection(first, 'Users and sessions');
  await openSection(second, 'Users and sessions');
  const rows = first.getByRole('table', { name: 'Your sessions' }).locator('tbody tr');
  await expect(rows).toHaveCount(2);

  const form = first.getByRole('form', { name: 'Change password' });
  const newPassword = 'e2e-user-password-2';
  await form.getByLabel('Current password').fill(user.password);
  await form.getByLabel('New password', { exact: true }).fill(newPassword);
  await form.getByLabel('Repeat the new password').fill('something-else-entirely');
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(first.getByRole('alert').filter({ hasText: 'differ' })).toBeVisible();

  await form.getByLabel('Current password').fill('not-the-current-password');
  await form.getByLabel('Repeat the new password').fill(newPassword);
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(
    first.getByRole('alert').filter({ hasText: 'the current password is not correct' }),
  ).toBeVisible();

  await form.getByLabel('Current password').fill(user.password);
  await form.getByLabel('New password', { exact: true }).fill(newPassword);
  await form.getByLabel('Repeat the new password').fill(newPassword);
  await form.getByRole('button', { name: 'Change password' }).click();
  await expect(first.getByRole('status').filter({ hasText: 'other sessions were signed out' })).toBeVisible();
  await expect(rows).toHaveCount(1);
  await expect(rows).toContainText('this session');
  await expectSignedOutOnNextCall(second);

  await first.getByRole('button', { name: 'Sign out everywhere' }).click();
  await confirm(first, 'Sign out everywhere');
  await expect(first.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  // The refresh cookie went too: a reload does not bring the session back.
  await first.reload();
  await expect(first.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  // The new password is the one that signs in now.
  await signIn(first, { email: user.email, password: newPassword });
});
