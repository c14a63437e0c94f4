import { createInterface } from 'node:readline/promises';
import { migrateToLatest } from '../db/migrate';
import { AuditLog } from '../server/base/audit';
import { readBuildInfo } from '../server/base/build-info';
import { ConfigError, loadConfig } from '../server/base/config';
import { createMetrics } from '../server/base/metrics/metrics';
import { UserService } from '../server/services/auth/users';
import { openScriptDatabase } from './lib/script-database';

/**
 * `npm run admin:create -- <email>` creates the first admin (with an organization of its own)
 * on DATABASE_URL or the embedded PostgreSQL under DATA_DIR. The password comes from
 * ADMIN_PASSWORD or is asked for on the terminal, never from the command line (shell history,
 * `ps`). Does nothing if a user with that email exists.
 */
async function run(): Promise<void> {
  const config = loadConfig();
  const email = process.argv[2] ?? config.ADMIN_EMAIL;
  if (!email) throw new Error('usage: npm run admin:create -- <email>   (or set ADMIN_EMAIL)');
  const password = config.ADMIN_PASSWORD ?? (await askPassword());

  const { database, close } = await openScriptDatabase(config);
  try {
    await migrateToLatest(database.db);
    const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
    const users = new UserService({
      database,
      audit: new AuditLog(metrics),
      passwordParams: { ln: config.AUTH_PASSWORD_COST, r: 8, p: 1 },
    });
    const result = await users.ensureAdmin({ email, password, organizationName: 'Default organization' });
    console.log(
      result.created
        ? `created admin ${email} (user ${result.userId})`
        : `a user with the email ${email} exists already; nothing changed`,
    );
  } finally {
    await close();
  }
}

/** Reads a password from the terminal without echoing it. */
async function askPassword(): Promise<string> {
  if (!process.stdin.isTTY)
    throw new Error('set ADMIN_PASSWORD, or run this in a terminal to be asked for it');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  // Echo nothing while the password is typed.
  const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
  let asking = false;
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (text: string) => {
    if (!asking) write.call(rl, text);
  };
  try {
    process.stdout.write('password (at least 12 characters): ');
    asking = true;
    const password = await rl.question('');
    asking = false;
    process.stdout.write('\n');
    if (password.length < 12) throw new Error('the password must be at least 12 characters');
    return password;
  } finally {
    rl.close();
  }
}

run().catch((error) => {
  console.error(
    error instanceof ConfigError ? error.message : `admin:create failed: ${error.message ?? error}`,
  );
  process.exit(1);
});
