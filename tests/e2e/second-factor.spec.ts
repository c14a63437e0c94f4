import { expect, type Page, test } from '@playwright/test';
import { Secret, TOTP } from 'otpauth';
import { E2E_PORT, SCREENSHOTS } from './platform';
import { guardPages, openSection, signIn } from './session';

guardPages();

/** The code an authenticator app shows for `secret` at `at`: RFC 6238, as the platform asks for it. */
function codeOf(secret: string, at: Date): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 });
  return totp.generate({ timestamp: at.getTime() });
}

/** A user of the admin's organization, made through the admin's form (the admin is never enrolled). */
async function createOperator(page: Page): Promise<{ email: string; password: string }> {
  const user = {
    email: `e2e-2fa-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`,
    password: 'e2e-second-factor-password',
  };
  await signIn(page);
  await openSection(page, 'Users and sessions');
  const form = page.getByRole('form', { name: 'Create a user' });
  await form.getByLabel('Email').fill(user.email);
  await form.getByLabel('Initial password').fill(user.password);
  await form.getByLabel('Role').selectOption('operator');
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Created ${user.email}` })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  return user;
}

test('enrols an authenticator app from its QR code, then signs in with two steps', async ({ page }) => {
  const user = await createOperator(page);
  await signIn(page, user);
  await openSection(page, 'Users and sessions');

  const factor = page.getByTestId('second-factor');
  await expect(factor.getByTestId('second-factor-status')).toHaveText('Sign-in asks for your password only.');
  await factor.getByRole('button', { name: 'Set up an authenticator app' }).click();
  const qr = factor.getByRole('img', { name: /QR code for/ });
  await expect(qr).toBeVisible();
  const secret = (await factor.getByTestId('totp-secret').textContent())?.trim() ?? '';
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await page.screenshot({ path: `${SCREENSHOTS}/second-factor.png`, fullPage: true });

  // The code of the step now, computed here from the key the page shows, as an app would.
  const enrolCode = codeOf(secret, new Date());
  await factor.getByLabel('Code from the app').fill(enrolCode);
  await factor.getByRole('button', { name: 'Activate' }).click();
  const dialog = page.getByRole('dialog', { name: 'Your recovery codes' });
  await expect(dialog.getByTestId('recovery-codes').getByRole('listitem')).toHaveCount(10);
  await expect(dialog.getByText('they are shown only once')).toBeVisible();
  await page.screenshot({ path: `${SCREENSHOTS}/second-factor-recovery-codes.png` });
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(factor.getByTestId('second-factor-status')).toHaveText(
    'An authenticator app is active. 10 of 10 recovery codes left.',
  );

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Second factor' })).toBeVisible();

  // The enrolment's code was spent (its time step is used): refused; the next step's is accepted.
  const code = page.getByLabel('Code from your authenticator app');
  await code.fill(enrolCode);
  await page.getByRole('button', { name: 'Verify' }).click();
  await expect(page.getByRole('alert')).toHaveText(/the code is not valid/);
  await code.fill(codeOf(secret, new Date(Date.now() + 30_000)));
  await page.screenshot({ path: `${SCREENSHOTS}/second-factor-sign-in.png` });
  await page.getByRole('button', { name: 'Verify' }).click();
  // Signed in: the dashboard comes back where it was (the page of the address).
  await expect(page.getByRole('navigation', { name: 'Sections' })).toBeVisible();

  // The session works (its refresh token is the HttpOnly cookie) and says how it was opened.
  await openSection(page, 'Overview');
  await openSection(page, 'Users and sessions');
  await expect(factor.getByTestId('second-factor-status')).toContainText('An authenticator app is active');
});

test('adds a passkey (a virtual authenticator in Chromium), signs in with it as the second step, then without a password', async ({
  page,
}) => {
  const user = await createOperator(page);
  // WebAuthn needs a domain for its relying party id, not an IP address: this test runs the
  // dashboard at localhost.
  const origin = `http://localhost:${E2E_PORT}`;
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });

  await page.goto(`${origin}/`);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Overview' })).toBeVisible();
  await openSection(page, 'Users and sessions');

  const passkeys = page.getByTestId('passkeys');
  await passkeys.getByLabel('Name of the new passkey').fill('virtual key');
  await passkeys.getByRole('button', { name: 'Add a passkey' }).click();
  // The first factor comes with the recovery codes.
  const dialog = page.getByRole('dialog', { name: 'Your recovery codes' });
  await expect(dialog.getByTestId('recovery-codes').getByRole('listitem')).toHaveCount(10);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(passkeys.getByRole('table', { name: 'Your passkeys' })).toContainText('virtual key');
  await expect(page.getByTestId('second-factor-status')).toHaveText(
    'Sign-in asks for a passkey. 10 of 10 recovery codes left.',
  );
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  expect(credentials).toHaveLength(1);
  await page.screenshot({ path: `${SCREENSHOTS}/second-factor-passkeys.png`, fullPage: true });

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Second factor' })).toBeVisible();
  await page.getByRole('button', { name: 'Use a passkey' }).click();
  await expect(page.getByRole('navigation', { name: 'Sections' })).toBeVisible();
  // The authenticator signed once more: its credential's counter went forward.
  const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  expect(after.credentials[0]!.signCount).toBeGreaterThan(credentials[0]!.signCount);
  await openSection(page, 'Overview');
  await openSection(page, 'Users and sessions');
  await expect(page.getByTestId('passkeys').getByRole('table', { name: 'Your passkeys' })).toContainText(
    'virtual key',
  );

  // Without a password: the passkey (a discoverable one, its user verified) names and proves them.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible();
  await page.getByRole('button', { name: 'Use a passkey instead of a password' }).click();
  await expect(page.getByRole('navigation', { name: 'Sections' })).toBeVisible();
  await openSection(page, 'Users and sessions');
  await expect(page.getByTestId('second-factor-status')).toContainText('Sign-in asks for a passkey');
});
