import { expect, type Page, test } from '@playwright/test';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, separateBrowsers, signIn } from './session';

const guards = guardPages();
/** A page in a browser of its own (own cookies, own session), guarded like the test's page. */
const freshBrowser = separateBrowsers(guards);

interface Credentials {
  email: string;
  password: string;
}

/** Names and addresses no other test (nor an earlier run of this one) has used. */
function unique(label: string): string {
  return `${label}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

async function confirm(page: Page, label: string): Promise<void> {
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: label }).click();
}

function organizationRow(page: Page, name: string) {
  return page
    .getByRole('table', { name: 'Organizations of the platform, oldest first' })
    .getByRole('row')
    .filter({ hasText: name });
}

/**
 * Reads the invitation link from the dialog that shows it once, checks the dialog says so, and
 * closes it. Returns the link.
 */
async function takeInvitationLink(page: Page, title: string, screenshot?: string): Promise<string> {
  const dialog = page.getByRole('dialog', { name: title });
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText('it will not be shown again');
  const link = (await dialog.getByTestId('invitation-link').textContent()) ?? '';
  expect(link).toMatch(/\/#\/accept\?token=bc_inv_[A-Za-z0-9_-]{43}$/);
  await dialog.getByRole('button', { name: 'Copy link' }).click();
  await expect(dialog.getByRole('status')).not.toBeEmpty();
  if (screenshot) await page.screenshot({ path: `${SCREENSHOTS}/${screenshot}` });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(dialog).toHaveCount(0);
  return link;
}

/** As the platform admin on the Organizations page: a new organization and its admin's link. */
async function createOrganization(
  page: Page,
  screenshot?: string,
): Promise<{ name: string; adminEmail: string; link: string }> {
  const name = unique('E2E Salon');
  const adminEmail = `${unique('e2e-tenant-admin')}@example.com`;
  const form = page.getByRole('form', { name: 'Create an organization' });
  await form.getByLabel('Name').fill(name);
  await form.getByLabel("First admin's email").fill(adminEmail);
  await form.getByRole('button', { name: 'Create organization' }).click();
  const link = await takeInvitationLink(page, `Invitation for the admin of ${name}`, screenshot);
  await expect(page.getByRole('status').filter({ hasText: `Created ${name}` })).toBeVisible();
  await expect(organizationRow(page, name)).toContainText('active');
  return { name, adminEmail, link };
}

/** Opens an invitation link in `page` (signed in or not), joins with a password, lands on the overview. */
async function acceptInvitation(
  page: Page,
  link: string,
  who: { email: string; name: string },
  screenshot?: string,
): Promise<Credentials> {
  const password = `${unique('pw')}-long`;
  await page.goto(link);
  await expect(page.getByRole('heading', { level: 1, name: 'Accept your invitation' })).toBeVisible();
  // The token leaves the address bar (history, shoulder surfing) as soon as the page has read it.
  expect(page.url()).not.toContain('token');
  await page.getByLabel('Your name (optional)').fill(who.name);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Repeat the password').fill(password);
  if (screenshot) await page.screenshot({ path: `${SCREENSHOTS}/${screenshot}` });
  await page.getByRole('button', { name: 'Join and sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  return { email: who.email, password };
}

function sections(page: Page) {
  return page.getByRole('navigation', { name: 'Sections' });
}

test('a platform admin creates an organization; its admin joins by the link and invites a member', async ({
  page,
  browser,
}) => {
  await signIn(page);
  await openSection(page, 'Organizations');

  // The server's refusal reaches the page in words.
  const form = page.getByRole('form', { name: 'Create an organization' });
  await form.getByLabel("First admin's email").fill('not-an-email');
  await form.getByRole('button', { name: 'Create organization' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'invalid input' })).toBeVisible();

  // One's own organization is renamed, never suspended nor deleted from here.
  const mine = page
    .getByRole('table', { name: 'Organizations of the platform, oldest first' })
    .getByRole('row')
    .filter({ hasText: '(yours)' });
  await expect(mine).toHaveCount(1);
  await expect(mine.getByRole('button')).toHaveText(['Rename']);

  const tenant = await createOrganization(page, 'organization-invitation-link.png');
  await expect(organizationRow(page, tenant.name).getByRole('cell').nth(1)).toHaveText('0');
  await page.screenshot({ path: `${SCREENSHOTS}/organizations.png`, fullPage: true });

  // The new organization's admin, in a browser that never signed in.
  const admin = await freshBrowser(browser);
  const adminCredentials = await acceptInvitation(
    admin,
    tenant.link,
    { email: tenant.adminEmail, name: 'Tenant Admin' },
    'invitation-accept.png',
  );
  // A tenant's admin sees the organization's pages, none of the platform's.
  const nav = sections(admin);
  for (const name of ['Overview', 'API keys', 'Deployments', 'Users and sessions', 'Audit log'])
    await expect(nav.getByRole('link', { name })).toBeVisible();
  for (const name of ['Organizations', 'Backups', 'Performance', 'Alerts'])
    await expect(nav.getByRole('link', { name })).toHaveCount(0);
  await expect(admin.getByTestId('platform-only')).toContainText('platform operators only');
  await expect(admin.getByRole('table', { name: 'Components and their status' })).toHaveCount(0);
  await expect(admin.getByTestId('stat-role')).toHaveText('Admin');
  await expect(admin.getByTestId('stat-health')).toHaveText(/pass|warn/);
  // No refused call behind the scenes: an empty alert region is hidden, so none shows.
  await expect(admin.getByRole('alert')).toHaveCount(0);
  await admin.screenshot({ path: `${SCREENSHOTS}/tenant-overview.png`, fullPage: true });
  // A platform page's address, typed or kept from another account, says why instead of failing.
  const platformPages: [hash: string, title: string, words: string][] = [
    ['organizations', 'Organizations', 'platform admins only'],
    ['backups', 'Backups', 'platform operators only'],
    ['performance', 'Performance', 'platform operators only'],
    ['alerts', 'Alerts', 'platform operators only'],
  ];
  for (const [hash, title, words] of platformPages) {
    await admin.goto(`/#/${hash}`);
    await expect(admin.getByRole('heading', { level: 1, name: title })).toBeVisible();
    await expect(admin.getByTestId('page-refused')).toContainText(words);
    await expect(admin.getByRole('table')).toHaveCount(0);
  }
  await admin.screenshot({ path: `${SCREENSHOTS}/tenant-platform-page-refused.png` });

  // The link works once: opened again, it is refused in words.
  const latecomer = await freshBrowser(browser);
  await latecomer.goto(tenant.link);
  const password = `${unique('pw')}-long`;
  await latecomer.getByLabel('Password', { exact: true }).fill(password);
  await latecomer.getByLabel('Repeat the password').fill(password);
  await latecomer.getByRole('button', { name: 'Join and sign in' }).click();
  await expect(latecomer.getByRole('alert')).toContainText('the invitation is not valid');
  await expect(latecomer.getByRole('heading', { level: 1, name: 'Accept your invitation' })).toBeVisible();

  // The tenant's admin invites a member.
  await admin.goto('/#/users');
  await expect(admin.getByRole('heading', { level: 1, name: 'Users and sessions' })).toBeVisible();
  const memberEmail = `${unique('e2e-member')}@example.com`;
  const invite = admin.getByRole('form', { name: 'Invite someone' });
  await invite.getByLabel('Email').fill(memberEmail);
  await invite.getByLabel('Role').selectOption('operator');
  await invite.getByRole('button', { name: 'Send invitation' }).click();
  const memberLink = await takeInvitationLink(admin, `Invitation for ${memberEmail}`);
  const invitations = admin.getByRole('table', { name: 'Invitations, newest first' });
  await expect(invitations.getByRole('row').filter({ hasText: memberEmail })).toContainText('pending');

  // A second invitation, revoked before anyone uses it: its link stops working.
  const revokedEmail = `${unique('e2e-revoked')}@example.com`;
  await invite.getByLabel('Email').fill(revokedEmail);
  await invite.getByRole('button', { name: 'Send invitation' }).click();
  const revokedLink = await takeInvitationLink(admin, `Invitation for ${revokedEmail}`);
  await invitations
    .getByRole('row')
    .filter({ hasText: revokedEmail })
    .getByRole('button', { name: `Revoke the invitation of ${revokedEmail}` })
    .click();
  await confirm(admin, 'Revoke');
  await expect(invitations.getByRole('row').filter({ hasText: revokedEmail })).toContainText('revoked');
  await latecomer.goto(revokedLink);
  await latecomer.getByLabel('Password', { exact: true }).fill(password);
  await latecomer.getByLabel('Repeat the password').fill(password);
  await latecomer.getByRole('button', { name: 'Join and sign in' }).click();
  await expect(latecomer.getByRole('alert')).toContainText('the invitation is not valid');

  // The member joins, as an operator of the tenant: still no platform page.
  const member = await freshBrowser(browser);
  const memberCredentials = await acceptInvitation(member, memberLink, {
    email: memberEmail,
    name: 'Tenant Member',
  });
  await expect(sections(member).getByRole('link', { name: 'Users and sessions' })).toBeVisible();
  await expect(sections(member).getByRole('link', { name: 'Organizations' })).toHaveCount(0);
  await expect(sections(member).getByRole('link', { name: 'Audit log' })).toHaveCount(0);
  await expect(member.getByTestId('stat-role')).toHaveText('Operator');

  await admin.reload();
  await expect(invitations.getByRole('row').filter({ hasText: memberEmail })).toContainText('accepted');
  const members = admin.getByRole('table', { name: 'Users of your organization' });
  const memberRow = members.getByRole('row').filter({ hasText: memberEmail });
  await expect(memberRow).toContainText('Tenant Member');
  await expect(memberRow.getByRole('combobox')).toHaveValue('operator');
  // The tenant sees its own members only: not the platform admin, nor other organizations'.
  await expect(members.getByRole('row').filter({ hasText: adminCredentials.email })).toContainText('(you)');
  await expect(members.locator('tbody tr')).toHaveCount(2);
  await admin.screenshot({ path: `${SCREENSHOTS}/tenant-members-invitations.png`, fullPage: true });

  // The platform admin sees the two members counted.
  await page.reload();
  await expect(organizationRow(page, tenant.name).getByRole('cell').nth(1)).toHaveText('2');

  // Removing the member ends their session and their sign-in.
  await memberRow.getByRole('button', { name: `Remove member ${memberEmail}` }).click();
  await confirm(admin, 'Remove');
  await expect(admin.getByRole('status').filter({ hasText: `${memberEmail} is removed` })).toBeVisible();
  await expect(members.getByRole('row').filter({ hasText: memberEmail })).toHaveCount(0);
  await sections(member).getByRole('link', { name: 'Users and sessions' }).click();
  await expect(member.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await member.getByLabel('Email').fill(memberCredentials.email);
  await member.getByLabel('Password').fill(memberCredentials.password);
  await member.getByRole('button', { name: 'Sign in' }).click();
  await expect(member.getByRole('alert')).not.toBeEmpty();
  await expect(member.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();

  await admin.setViewportSize({ width: 390, height: 844 });
  const overflow = await admin.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await admin.screenshot({ path: `${SCREENSHOTS}/tenant-members-invitations-390.png`, fullPage: true });
});

test('suspending an organization signs its members out until it is resumed; deleting takes its name', async ({
  page,
  browser,
}) => {
  await signIn(page);
  await openSection(page, 'Organizations');
  const tenant = await createOrganization(page);
  const admin = await freshBrowser(browser);
  const credentials = await acceptInvitation(admin, tenant.link, {
    email: tenant.adminEmail,
    name: 'Suspended Admin',
  });
  await admin.goto('/#/users');
  await expect(admin.getByRole('heading', { level: 1, name: 'Users and sessions' })).toBeVisible();

  const row = organizationRow(page, tenant.name);
  await row.getByRole('button', { name: `Suspend ${tenant.name}` }).click();
  const suspend = page.getByRole('dialog', { name: `Suspend ${tenant.name}` });
  // A reason is required: the server says so, and the dialog stays open.
  await suspend.getByRole('button', { name: 'Suspend' }).click();
  await expect(suspend.getByRole('alert')).toContainText('reason');
  await suspend.getByLabel('Reason').fill('Invoices unpaid since March');
  await page.screenshot({ path: `${SCREENSHOTS}/organization-suspend.png` });
  await suspend.getByRole('button', { name: 'Suspend' }).click();
  await expect(suspend).toHaveCount(0);
  await expect(row).toContainText('suspended');
  await expect(row).toContainText('Invoices unpaid since March');
  await expect(row.getByRole('button', { name: `Resume ${tenant.name}` })).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/organization-suspended.png`, fullPage: true });

  // The tenant's next action is refused: the dashboard asks to sign in, and signing in is refused.
  await admin.getByRole('button', { name: 'Refresh your sessions' }).click();
  await expect(admin.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await admin.getByLabel('Email').fill(credentials.email);
  await admin.getByLabel('Password').fill(credentials.password);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await expect(admin.getByRole('alert')).not.toBeEmpty();
  await expect(admin.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await admin.screenshot({ path: `${SCREENSHOTS}/tenant-suspended-sign-in.png` });

  await row.getByRole('button', { name: `Resume ${tenant.name}` }).click();
  await confirm(page, 'Resume');
  await expect(page.getByRole('status').filter({ hasText: `${tenant.name} is active again` })).toBeVisible();
  await expect(row).toContainText('active');
  await signIn(admin, credentials);

  // Renamed, then deleted: the button waits for the name typed out.
  const renamed = `${tenant.name} renamed`;
  await row.getByRole('button', { name: `Rename ${tenant.name}` }).click();
  const rename = page.getByRole('dialog', { name: `Rename ${tenant.name}` });
  await rename.getByLabel('New name').fill(renamed);
  await rename.getByRole('button', { name: 'Rename' }).click();
  const renamedRow = organizationRow(page, renamed);
  await expect(renamedRow).toHaveCount(1);

  await renamedRow.getByRole('button', { name: `Delete ${renamed}` }).click();
  const remove = page.getByRole('dialog', { name: `Delete ${renamed}` });
  const deleteButton = remove.getByRole('button', { name: 'Delete organization' });
  await expect(deleteButton).toBeDisabled();
  await remove.getByLabel(/Type the organization's name/).fill(tenant.name);
  await expect(deleteButton).toBeDisabled();
  await page.screenshot({ path: `${SCREENSHOTS}/organization-delete.png` });
  await remove.getByLabel(/Type the organization's name/).fill(renamed);
  await deleteButton.click();
  await expect(remove).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: `${renamed} is deleted` })).toBeVisible();
  await expect(organizationRow(page, renamed)).toHaveCount(0);

  // Its admin is gone with it.
  await sections(admin).getByRole('link', { name: 'Users and sessions' }).click();
  await expect(admin.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await admin.getByLabel('Email').fill(credentials.email);
  await admin.getByLabel('Password').fill(credentials.password);
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await expect(admin.getByRole('alert')).not.toBeEmpty();
});

test('an invitation link without its token says so instead of offering a form that cannot work', async ({
  page,
}) => {
  await page.goto('/#/accept');
  await expect(page.getByRole('heading', { level: 1, name: 'Accept your invitation' })).toBeVisible();
  await expect(page.getByRole('alert')).toContainText('holds no invitation');
  await expect(page.getByRole('button', { name: 'Join and sign in' })).toBeDisabled();
  await page.getByRole('link', { name: 'Sign in instead' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
});
