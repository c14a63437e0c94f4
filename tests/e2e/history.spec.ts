import { expect, type Page, test } from '@playwright/test';
import { accessToken, call } from './api-calls';
import { SCREENSHOTS } from './platform';
import { guardPages, openSection, signIn } from './session';

guardPages();

/** A chart of the history by its title; `data-points` counts the minutes with requests it drew. */
function chart(page: Page, title: string) {
  return page.getByRole('figure', { name: `${title} over time` });
}

test('the overview charts the stored history: titled, with units, a range that survives a reload, and annotations', async ({
  page,
  request,
}) => {
  // Traffic the charts must show: successes, refusals (4xx) of a procedure called without a session.
  for (let i = 0; i < 40; i++) expect((await request.get('/api/trpc/system.info')).ok()).toBe(true);
  for (let i = 0; i < 5; i++) expect((await request.get('/api/trpc/auth.me')).status()).toBe(401);
  const token = await accessToken(request);
  const text = `e2e history marker ${Date.now()}`;
  await call(request, token, 'system.annotations.create', { text, tags: ['e2e'] });

  await signIn(page);
  const charts = page.getByRole('region', { name: /Charts of the stored history/ });
  for (const title of ['Requests per second', 'Errors per second (4xx and 5xx)', 'Latency percentiles']) {
    await expect(chart(page, title).locator('figcaption')).toHaveText(title);
    await expect(chart(page, title)).toHaveAttribute('data-points', /^[1-9]\d*$/);
  }
  // Units and the separate series, in the legends.
  await expect(chart(page, 'Requests per second').locator('.u-legend')).toContainText('Requests/s');
  await expect(chart(page, 'Errors per second (4xx and 5xx)').locator('.u-legend')).toContainText('4xx/s');
  await expect(chart(page, 'Errors per second (4xx and 5xx)').locator('.u-legend')).toContainText('5xx/s');
  for (const percentile of ['p50 (ms)', 'p95 (ms)', 'p99 (ms)'])
    await expect(chart(page, 'Latency percentiles').locator('.u-legend')).toContainText(percentile);
  await expect(charts.locator('.uplot')).toHaveCount(3);

  // The annotation is a marker on every chart, its text on hover.
  const markers = chart(page, 'Requests per second').locator(
    `[data-testid="annotation-marker"][title$="${text}"]`,
  );
  await expect(markers).toHaveCount(1);
  await markers.hover();
  await expect(markers).toHaveAttribute('aria-label', new RegExp(`Annotation: .*${text}$`));

  // A range picked persists in the URL and across a reload, and the data comes back from the server.
  const picker = page.getByRole('group', { name: 'Time range' });
  await picker.getByRole('button', { name: '6 h' }).click();
  await expect(picker.getByRole('button', { name: '6 h' })).toHaveAttribute('aria-pressed', 'true');
  await expect(page).toHaveURL(/#\/overview\?range=6h$/);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await expect(picker.getByRole('button', { name: '6 h' })).toHaveAttribute('aria-pressed', 'true');
  await expect(chart(page, 'Requests per second')).toHaveAttribute('data-points', /^[1-9]\d*$/);
  await expect(chart(page, 'Latency percentiles')).toHaveAttribute('data-points', /^[1-9]\d*$/);
  await expect(markers).toHaveCount(1);
  await page.screenshot({ path: `${SCREENSHOTS}/overview-history.png`, fullPage: true });

  // Another page and back: the charts are the server's, not the tab's.
  await openSection(page, 'Performance');
  await openSection(page, 'Overview');
  await expect(chart(page, 'Requests per second')).toHaveAttribute('data-points', /^[1-9]\d*$/);
});

test('the performance page charts the latency of a procedure picked in the table, with 4xx and 5xx apart', async ({
  page,
  request,
}) => {
  for (let i = 0; i < 30; i++) expect((await request.get('/api/trpc/system.info')).ok()).toBe(true);
  await signIn(page);
  await openSection(page, 'Performance');
  const table = page.getByRole('table', { name: /^Routes and procedures by requests/ });
  await expect(table.getByRole('columnheader', { name: '4xx' })).toBeVisible();
  await expect(table.getByRole('columnheader', { name: '5xx' })).toBeVisible();
  await expect(table.getByRole('columnheader', { name: 'Errors' })).toHaveCount(0);

  await table.getByRole('button', { name: 'Chart procedure system.info' }).click();
  await expect(page.getByTestId('history-title')).toHaveText('History of procedure system.info');
  await expect(page).toHaveURL(/procedure=system\.info/);
  const latency = chart(page, 'Latency percentiles');
  await expect(latency).toHaveAttribute('data-points', /^[1-9]\d*$/);
  await expect(latency.locator('.u-legend')).toContainText('p99 (ms)');
  await expect(chart(page, 'Errors per second (4xx and 5xx)')).toBeVisible();

  // The selection and range come back with a reload.
  await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '15 min' }).click();
  await page.reload();
  await expect(page.getByTestId('history-title')).toHaveText('History of procedure system.info');
  await expect(latency).toHaveAttribute('data-points', /^[1-9]\d*$/);
  await page.getByTestId('history-title').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${SCREENSHOTS}/performance-charts.png` });
});
