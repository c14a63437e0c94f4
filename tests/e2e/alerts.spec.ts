import { expect, type Page, test } from '@playwright/test';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, signIn } from './session';

const guards = guardPages();
const MARKUP = '<img src=x onerror=alert(1)>';

function rulesTable(page: Page) {
  return page.getByRole('table', { name: 'Alert rules and their current state' });
}

async function fillRule(
  page: Page,
  rule: { name: string; expression: string; comparator: string; threshold: string },
): Promise<void> {
  const form = page.getByRole('form', { name: 'Create an alert rule' });
  await form.getByLabel('Rule name').fill(rule.name);
  await form.getByLabel('Expression').fill(rule.expression);
  await form.getByLabel('Comparator').selectOption(rule.comparator);
  await form.getByLabel('Threshold').fill(rule.threshold);
  await form.getByLabel('For (seconds)').fill('0');
  await form.getByLabel('Severity').selectOption('info');
  await form.getByRole('button', { name: 'Create rule' }).click();
}

/** Whether anything is wider than the screen (the page would scroll sideways). */
function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

test('platform rules are read-only; a bad expression is refused at its position; a rule fires, is disabled and deleted', async ({
  page,
}) => {
  await signIn(page);
  await openSection(page, 'Alerts');

  const platformRule = rulesTable(page).getByRole('row').filter({ hasText: 'PlatformDatabaseDown' });
  await expect(platformRule).toContainText('platform');
  await expect(platformRule).toContainText('db_up');
  await expect(platformRule).toContainText('== 0 for 60s');
  await expect(platformRule.getByRole('button')).toHaveCount(0);

  const form = page.getByRole('form', { name: 'Create an alert rule' });
  const formMessage = form.locator('[role="alert"]');
  await fillRule(page, {
    name: `E2eBroken_${Date.now()}`,
    expression: 'rate(db_up[5m]',
    comparator: '==',
    threshold: '1',
  });
  await expect(formMessage).toHaveText(/expression at position 14: expected '\)'/);
  // The caret is put on the mistake.
  await expect(form.getByLabel('Expression')).toBeFocused();
  await expect(form.getByLabel('Expression')).toHaveAttribute('aria-invalid', 'true');

  // db_up == 1 holds while the database answers: the rule fires at its first evaluation.
  const name = `E2eDatabaseUp_${Date.now()}`;
  await fillRule(page, { name, expression: 'db_up', comparator: '==', threshold: '1' });
  await expect(formMessage).toBeEmpty();
  const row = rulesTable(page).getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('organization');
  await expect(row.locator('code')).toHaveText('db_up');
  await expect(row).toContainText('== 1 for 0s');
  await expect(row).toContainText('info');
  // Evaluations run every 15 s (ALERT_EVAL_INTERVAL_MS) and the table refreshes every 5 s.
  await expect(row.getByRole('cell').nth(5)).toHaveText('firing', { timeout: 30_000 });
  const history = page.getByRole('table', { name: /State changes/ });
  await expect(history.getByRole('row').filter({ hasText: name }).first()).toContainText('firing');
  await page.screenshot({ path: `${SCREENSHOTS}/alerts.png`, fullPage: true });

  // By keyboard: Enter on the focused button; focus stays on the redrawn row's button.
  await row.getByRole('button', { name: `Disable rule ${name}` }).focus();
  await page.keyboard.press('Enter');
  await expect(row.getByRole('cell').nth(7)).toHaveText('no');
  await expect(row.getByRole('button', { name: `Enable rule ${name}` })).toBeFocused();
  // Disabling ends the firing alert, which the history records as resolved.
  await expect(
    history.getByRole('row').filter({ hasText: name }).filter({ hasText: 'resolved' }),
  ).toHaveCount(1);

  await row.getByRole('button', { name: `Delete rule ${name}` }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveCount(0);
  await expect(page.getByRole('heading', { level: 2, name: 'Rules' })).toBeFocused();
  await expect(platformRule).toBeVisible();
});

test('markup in a rule or a webhook stays text; a private webhook URL is refused', async ({ page }) => {
  await signIn(page);
  await openSection(page, 'Alerts');
  const form = page.getByRole('form', { name: 'Create an alert rule' });

  // Rule names are label values ([A-Za-z_][A-Za-z0-9_]*): the server refuses this one, as text.
  await fillRule(page, { name: MARKUP, expression: 'db_up', comparator: '>', threshold: '0' });
  await expect(form.locator('[role="alert"]')).toHaveText(/^invalid input: name: must be 1-100 letters/);
  await expect(form.getByLabel('Rule name')).toHaveValue(MARKUP);
  await expect(rulesTable(page).getByRole('row').filter({ hasText: MARKUP })).toHaveCount(0);
  await fillRule(page, {
    name: `E2eMarkup_${Date.now()}`,
    expression: MARKUP,
    comparator: '>',
    threshold: '0',
  });
  await expect(form.locator('[role="alert"]')).toHaveText(/^expression at position 0: .*found '<'/);

  // The e2e admin is a platform admin: the Webhooks section is there.
  const webhooks = page.getByRole('form', { name: 'Create a webhook' });
  await webhooks.getByLabel('Webhook name').fill('loopback');
  await webhooks.getByLabel('Webhook URL').fill('http://127.0.0.1:9/hook');
  await webhooks.getByRole('button', { name: 'Create webhook' }).click();
  await expect(webhooks.locator('[role="alert"]')).toHaveText(
    /loopback, private, link-local or reserved address/,
  );

  await webhooks.getByLabel('Webhook name').fill(MARKUP);
  await webhooks.getByLabel('Webhook URL').fill('https://alerts.example.com/hook');
  await webhooks.getByRole('button', { name: 'Create webhook' }).click();
  const dialog = page.getByRole('dialog', { name: 'Your new webhook secret' });
  await expect(dialog.getByText(MARKUP, { exact: true })).toBeVisible();
  expect((await dialog.getByTestId('new-webhook-secret').textContent())?.length).toBeGreaterThan(20);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(webhooks.locator('[role="alert"]')).toBeEmpty();

  const listed = page.getByRole('table', { name: 'Webhooks' }).getByRole('row').filter({ hasText: MARKUP });
  await expect(listed.getByRole('cell', { name: MARKUP, exact: true })).toBeVisible();
  // Had any of it become markup, an <img> would exist and its onerror would have opened an alert.
  await expect(page.locator('main img, dialog img')).toHaveCount(0);
  await page.waitForTimeout(500);
  expect(guards.dialogs).toEqual([]);

  await listed.getByRole('button', { name: `Delete webhook ${MARKUP}` }).click();
  await page.getByRole('dialog', { name: 'Please confirm' }).getByRole('button', { name: 'Delete' }).click();
  await expect(listed).toHaveCount(0);
});

test('the performance page shows cache and capacity figures and warms the caches', async ({ page }) => {
  await signIn(page);
  await openSection(page, 'Performance');
  const cache = page.getByRole('region', { name: 'Cache' });
  const capacity = page.getByRole('region', { name: 'Capacity' });
  await expect(cache.getByTestId('cache-hits')).toHaveText(/^\d+$/);
  await expect(cache.getByTestId('cache-hit-rate')).toHaveText(/^\d+(\.\d)? %$/);
  await expect(cache.getByTestId('cache-entries')).toHaveText(/^\d+ of \d+$/);
  await expect(cache.getByRole('table', { name: 'Other caches by source' })).toContainText('apiKeys');
  await expect(capacity.getByTestId('capacity-memory')).toHaveText(/^\d+(\.\d)? [KMG]iB of /);
  await expect(capacity.getByTestId('capacity-pool')).toHaveText(/^\d+ of \d+$/);
  // The sampler needs two samples some seconds apart before it has rates.
  await expect(capacity.getByTestId('capacity-throughput')).toHaveText(/^\d+(\.\d+)? req\/s$/, {
    timeout: 20_000,
  });
  await expect(capacity.getByRole('table', { name: /^Resources/ }).getByRole('row')).toHaveCount(4);

  await cache.getByRole('button', { name: 'Warm caches' }).click();
  const results = cache.getByRole('table', { name: 'Warm results, just now' });
  const warmed = results.getByRole('row').filter({ hasText: 'database-settings' });
  await expect(warmed).toContainText('succeeded');
  await expect(warmed.getByRole('cell').nth(1)).toHaveText(/^\d+$/);
  await page.screenshot({ path: `${SCREENSHOTS}/performance-cache-capacity.png`, fullPage: true });
});

test('the alerts and performance pages fit a 390 px screen', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page);
  await openSection(page, 'Alerts');
  await expect(rulesTable(page).getByRole('row').filter({ hasText: 'PlatformDatabaseDown' })).toBeVisible();
  await expect(page.getByRole('form', { name: 'Create a webhook' })).toBeVisible();
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
  await page.screenshot({ path: `${SCREENSHOTS}/alerts-390.png`, fullPage: true });

  await openSection(page, 'Performance');
  await expect(page.getByTestId('cache-hits')).toHaveText(/^\d+$/);
  await expect(page.getByTestId('capacity-memory')).not.toHaveText('');
  expect(await horizontalOverflow(page)).toBeLessThanOrEqual(0);
});
