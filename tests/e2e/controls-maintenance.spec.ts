import { expect, test } from '@playwright/test';
import { accessToken, call, createMember } from './api-calls';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, separateBrowsers, signIn } from './session';

/**
 * Maintenance mode from the dashboard: a platform admin switches it on with a message, everyone
 * signed in sees the banner (and the server refuses their changes), then it is switched off.
 */
const guards = guardPages();
const secondBrowser = separateBrowsers(guards);

// Whatever happens, the platform leaves this spec out of maintenance: other specs make changes.
test.afterAll(async ({ request }) => {
  await call(request, await accessToken(request), 'devops.maintenance.set', { enabled: false });
});

test('maintenance is switched on with its message, shown to everyone, and switched off', async ({
  page,
  browser,
  request,
}) => {
  const message = `Database upgrade ${Date.now()}: back in ten minutes.`;
  const token = await accessToken(request);
  const viewer = await createMember(request, token, 'viewer');

  await signIn(page);
  await openSection(page, 'Maintenance');
  const state = page.getByTestId('maintenance-state');
  await expect(state).toContainText('off');
  await page.getByLabel('Message shown to callers').fill(message);
  await page.getByLabel('Ask callers to retry after (seconds)').fill('600');
  await page.getByRole('button', { name: 'Turn maintenance on' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Maintenance is on.' })).toBeVisible();
  await expect(state).toContainText(message);
  await expect(state).toContainText('600 s');
  // The banner follows at the next page drawn (and within its polling interval on any page).
  await openSection(page, 'Overview');
  await expect(page.getByTestId('maintenance-banner')).toContainText(message);
  await openSection(page, 'Maintenance');
  await page.screenshot({ path: `${SCREENSHOTS}/maintenance.png`, fullPage: true });

  // Someone else, signed in elsewhere: told why, and their changes are refused.
  const viewerPage = await secondBrowser(browser);
  await signIn(viewerPage, viewer);
  await expect(viewerPage.getByTestId('maintenance-banner')).toContainText(message);
  await expect(viewerPage.getByRole('link', { name: 'Maintenance' })).toHaveCount(0);
  const refused = await request.post('/api/trpc/system.annotations.create', {
    headers: { authorization: `Bearer ${token}` },
    data: { text: 'during maintenance', tags: [] },
  });
  expect(refused.status()).toBe(503);
  expect(await refused.text()).toContain(message);

  await page.getByRole('button', { name: 'Turn maintenance off' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Maintenance is off.' })).toBeVisible();
  await expect(state).toContainText('off');
  await viewerPage.reload();
  await expect(viewerPage.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await expect(viewerPage.getByTestId('maintenance-banner')).toBeEmpty();
});

test('a platform operator sees the state but has no switch', async ({ page, request }) => {
  const operator = await createMember(request, await accessToken(request), 'viewer', 'operator');
  await signIn(page, operator);
  await openSection(page, 'Maintenance');
  await expect(page.getByTestId('maintenance-state')).toContainText('off');
  await expect(page.getByRole('button', { name: /Turn maintenance/ })).toHaveCount(0);
  await expect(page.getByText('Only platform admins switch maintenance mode.')).toBeVisible();
});
