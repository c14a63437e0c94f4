import { type APIRequestContext, expect, type Page, test } from '@playwright/test';
import { API_KEY_SCOPES } from '../../shared/auth';
import { E2E_ADMIN, SCREENSHOTS } from './platform';
import { guardPages } from './session';

/**
 * The interactive API reference at /api/docs: it runs under a policy without 'unsafe-inline'
 * (scripts and styles from files only), lists every operation of /api/openapi.json, filters them,
 * and its "Try it" panel calls the route with the API key typed in.
 */
const guards = guardPages();

interface PageProblems {
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** `securitypolicyviolation` events the page itself saw: `directive blocked-uri`. */
  violations(): Promise<string[]>;
}

/** Records what went wrong on the page, from before its first script runs. */
async function watchProblems(page: Page): Promise<PageProblems> {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  // Injected by the browser's debugging protocol, not as a script of the page: the CSP does not apply.
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener('securitypolicyviolation', (event) => {
      seen.push(`${event.violatedDirective} ${event.blockedURI}`);
    });
  });
  return {
    errors,
    violations: () =>
      page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations),
  };
}

/** How many operations the document describes, and a predicate that matches the page's filter. */
async function documentOperations(request: APIRequestContext) {
  const response = await request.get('/api/openapi.json');
  expect(response.status()).toBe(200);
  const document = (await response.json()) as {
    paths: Record<string, Record<string, { operationId?: string; summary?: string; tags?: string[] }>>;
  };
  const operations: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      operations.push(
        [
          method.toUpperCase(),
          path,
          operation.summary ?? '',
          operation.operationId ?? '',
          operation.tags?.[0] ?? '',
        ]
          .join(' ')
          .toLowerCase(),
      );
    }
  }
  return operations;
}

/** A new API key of the e2e admin with every scope, made through the API as a partner would. */
async function createKey(request: APIRequestContext): Promise<{ key: string; id: string }> {
  const login = await request.post('/api/trpc/auth.login', { data: E2E_ADMIN });
  expect(login.status()).toBe(200);
  const token = ((await login.json()) as { result: { data: { accessToken: string } } }).result.data
    .accessToken;
  const created = await request.post('/api/trpc/auth.apiKeys.create', {
    headers: { authorization: `Bearer ${token}` },
    data: { name: `e2e docs ${Date.now()}`, scopes: [...API_KEY_SCOPES] },
  });
  expect(created.status()).toBe(200);
  const body = (await created.json()) as { result: { data: { key: string; apiKey: { id: string } } } };
  return { key: body.result.data.key, id: body.result.data.apiKey.id };
}

async function openReference(page: Page): Promise<void> {
  await page.goto('/api/docs');
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();
}

const sidebar = (page: Page) => page.getByRole('navigation', { name: 'Operations' });

test('the reference loads under its policy and lists every operation of the document', async ({
  page,
  request,
}) => {
  const problems = await watchProblems(page);
  const operations = await documentOperations(request);
  expect(operations.length).toBeGreaterThan(0);

  const response = await page.goto('/api/docs');
  expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
  expect(response?.headers()['content-security-policy']).not.toContain('unsafe-inline');
  await expect(page.locator('body[data-ready="true"]')).toBeAttached();

  // The stylesheet applied (a blocked one would leave the sidebar unstyled).
  const sidebarPosition = await sidebar(page).evaluate((element) => getComputedStyle(element).position);
  expect(sidebarPosition).toBe('sticky');
  await expect(sidebar(page).getByRole('listitem')).toHaveCount(operations.length);
  await expect(page.getByRole('status').filter({ hasText: `${operations.length} operations` })).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/api-docs.png`, fullPage: true });

  expect(problems.errors).toEqual([]);
  expect(await problems.violations()).toEqual([]);
});

test('the filter narrows the sidebar to the operations that match, and clearing it shows them all', async ({
  page,
  request,
}) => {
  const problems = await watchProblems(page);
  const operations = await documentOperations(request);
  await openReference(page);
  const filter = page.getByLabel('Filter operations');
  const items = sidebar(page).getByRole('listitem');

  await filter.fill('/api/v1/me');
  const matching = operations.filter((text) => text.includes('/api/v1/me')).length;
  expect(matching).toBeGreaterThan(0);
  await expect(items.filter({ visible: true })).toHaveCount(matching);
  await expect(sidebar(page).getByRole('link', { name: /GET \/api\/v1\/me\b/ })).toBeVisible();

  await filter.fill('no-such-operation-anywhere');
  await expect(items.filter({ visible: true })).toHaveCount(0);
  await expect(page.getByRole('status').filter({ hasText: 'No operation matches' })).toBeVisible();

  await filter.fill('');
  await expect(items.filter({ visible: true })).toHaveCount(operations.length);

  expect(problems.errors).toEqual([]);
  expect(await problems.violations()).toEqual([]);
});

test('"Try it" calls GET /api/v1/me with the API key (200, the key in the body) and without one (401)', async ({
  page,
  request,
}) => {
  const problems = await watchProblems(page);
  const { key, id } = await createKey(request);
  await openReference(page);

  // Keyboard: the operation's link is reached and followed without the mouse.
  const link = sidebar(page).getByRole('link', { name: /GET \/api\/v1\/me\b/ });
  await link.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 2, name: 'GET /api/v1/me' })).toBeVisible();
  await expect(link).toHaveAttribute('aria-current', 'page');
  // The reference part: who may call it, the response schema and the error example.
  await expect(page.getByText('Who may call it', { exact: true })).toBeVisible();
  await expect(page.getByText('any signed-in user or API key')).toBeVisible();
  await expect(page.locator('.schema-name', { hasText: 'apiKeyId' }).first()).toBeVisible();
  const unauthorized = page.locator('details', { has: page.getByText('401', { exact: true }) });
  await unauthorized.getByText('401', { exact: true }).click();
  await expect(unauthorized.getByText('"code": "UNAUTHORIZED"')).toBeVisible();

  const tryIt = page.getByRole('region', { name: 'Try it' });
  await tryIt.getByLabel('API key').fill(key);
  await tryIt.getByRole('button', { name: 'Send request' }).click();
  await expect(tryIt.getByTestId('try-status')).toHaveText('200');
  const body = tryIt.getByTestId('try-response-body');
  await expect(body).toContainText(`"apiKeyId": "${id}"`);
  await expect(body).toContainText('"kind": "apiKey"');
  // The headers that matter, as the server sent them (RateLimit and Retry-After only when a limit spoke).
  await expect(tryIt.getByTestId('try-result').getByText('X-Request-Id', { exact: true })).toBeVisible();
  await expect(tryIt.getByTestId('try-result').getByText('application/json', { exact: true })).toBeVisible();

  // The curl command is the same request, and never holds the key itself.
  const curl = tryIt.getByTestId('curl');
  await expect(curl).toContainText('curl -sS -X GET');
  await expect(curl).toContainText('/api/v1/me');
  await expect(curl).toContainText('X-API-Key: $BC_API_KEY');
  await expect(curl).not.toContainText(key);
  await page.screenshot({ path: `${SCREENSHOTS}/api-docs-try-it.png`, fullPage: true });

  // The key is kept for this tab only.
  const stored = await page.evaluate(() => ({
    session: Object.keys(sessionStorage).map((name) => sessionStorage.getItem(name)),
    local: localStorage.length,
  }));
  expect(stored.session).toContain(key);
  expect(stored.local).toBe(0);

  await tryIt.getByRole('button', { name: 'Forget key' }).click();
  await expect(tryIt.getByLabel('API key')).toHaveValue('');
  await tryIt.getByRole('button', { name: 'Send request' }).click();
  await expect(tryIt.getByTestId('try-status')).toHaveText('401');
  await expect(body).toContainText('"code": "UNAUTHORIZED"');
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

  // Chromium reports the 401 itself as a failed resource load; nothing else may fail.
  expect(problems.errors.filter((text) => !/status of 401/.test(text))).toEqual([]);
  expect(await problems.violations()).toEqual([]);
  expect(guards.cspViolations).toEqual([]);
});
