/** Where the platform under test listens and who signs in: shared by the config, setup and tests. */
export const E2E_PORT = Number(process.env.E2E_PORT ?? 4817);
export const E2E_BASE_URL = `http://127.0.0.1:${E2E_PORT}`;
/** The platform's embedded PostgreSQL (postgres user; password in `${E2E_DATA_DIR}/postgres.password`). */
export const E2E_PG_PORT = E2E_PORT + 1;
/** The one scratch database a backup may be restored into (BACKUP_RESTORE_TARGETS names it exactly). */
export const E2E_RESTORE_DATABASE = 'e2e_restore';
export const E2E_ADMIN = { email: 'e2e-admin@example.com', password: 'e2e-password-long-enough' };
export const SCREENSHOTS = 'test-results/screenshots';
