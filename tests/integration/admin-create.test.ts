import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../server/services/auth/passwords';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { ROOT } from '../helpers/server-process';

const run = promisify(execFile);

/** `npm run admin:create` as an operator runs it: a process of its own, against a real database. */
function adminCreate(args: string[], env: Record<string, string>) {
  return run(process.execPath, ['--import', 'tsx', 'scripts/admin-create.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', AUTH_PASSWORD_COST: '10', ...env },
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}

describe('npm run admin:create', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });

  async function usersNamed(email: string) {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        'select role, password_hash, disabled from users where email = $1',
        [email],
      );
      return rows as { role: string; password_hash: string; disabled: boolean }[];
    } finally {
      await client.end();
    }
  }

  it('migrates, creates the first admin with the password from ADMIN_PASSWORD, and is idempotent', async () => {
    const password = 'first-admin-password-0123';
    const first = await adminCreate(['First@Admin.test'], {
      DATABASE_URL: database.url,
      ADMIN_PASSWORD: password,
    });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^created admin First@Admin.test \(user [0-9a-f-]{36}\)/);
    const [user] = await usersNamed('first@admin.test');
    expect(user).toMatchObject({ role: 'admin', disabled: false });
    expect(user?.password_hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect((await verifyPassword(password, user!.password_hash, { ln: 10, r: 8, p: 1 })).ok).toBe(true);
    expect(first.stdout + first.stderr).not.toContain(password);

    const again = await adminCreate(['first@admin.test'], {
      DATABASE_URL: database.url,
      ADMIN_PASSWORD: 'other-password-0123',
    });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('exists already; nothing changed');
    expect(await usersNamed('first@admin.test')).toHaveLength(1);
  });

  it('refuses without an email, and without a password when there is no terminal to ask on', async () => {
    const noEmail = await adminCreate([], { DATABASE_URL: database.url, ADMIN_PASSWORD: 'x'.repeat(16) });
    expect(noEmail.code).toBe(1);
    expect(noEmail.stderr).toContain('usage: npm run admin:create -- <email>');
    const noPassword = await adminCreate(['second@admin.test'], { DATABASE_URL: database.url });
    expect(noPassword.code).toBe(1);
    expect(noPassword.stderr).toContain('set ADMIN_PASSWORD');
    expect(await usersNamed('second@admin.test')).toHaveLength(0);
  });
});
