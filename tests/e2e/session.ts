import { type Browser, type BrowserContext, expect, type Page, test } from '@playwright/test';
import { E2E_ADMIN } from './platform';

/**
 * What every dashboard spec shares: signing in, opening a section, and the guards that fail a
 * test when injected code ran (a JavaScript dialog opened) or the page broke its CSP.
 */
export interface PageGuards {
  /** `type: message` of every alert, confirm or prompt that opened; each is dismissed. */
  dialogs: string[];
  cspViolations: string[];
}

/**
 * Installs the dialog and CSP guards for each test of the calling spec file and returns the
 * record the tests may also assert on mid-test.
 */
export function guardPages(): PageGuards {
  const guards: PageGuards = { dialogs: [], cspViolations: [] };
  test.beforeEach(({ page }) => {
    guards.dialogs.length = 0;
    guards.cspViolations.length = 0;
    watchPage(page, guards);
  });
  test.afterEach(() => {
    expect(guards.dialogs, 'no alert, confirm or prompt may open').toEqual([]);
    expect(guards.cspViolations, 'no Content-Security-Policy violation').toEqual([]);
  });
  return guards;
}

/**
 * Opens pages in browsers of their own (own cookies, own session), guarded like the test's page;
 * the browsers a test opened are closed after it. Call once per spec file, beside guardPages().
 */
export function separateBrowsers(guards: PageGuards): (browser: Browser) => Promise<Page> {
  let contexts: BrowserContext[] = [];
  test.beforeEach(() => {
    contexts = [];
  });
  test.afterEach(async () => {
    for (const context of contexts) await context.close();
  });
  return async (browser) => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    watchPage(page, guards);
    return page;
  };
}

/** Records a page's JavaScript dialogs (dismissing them) and CSP violations into `guards`. */
export function watchPage(page: Page, guards: PageGuards): void {
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text()))
      guards.cspViolations.push(message.text());
  });
  page.on('dialog', (dialog) => {
    guards.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
}

/** Signs in (as the e2e admin unless told otherwise) and waits for the overview. */
export async function signIn(
  page: Page,
  who: { email: string; password: string } = E2E_ADMIN,
): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
}

/** Follows a link of the Sections navigation and waits for the page's heading. */
export async function openSection(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
}
