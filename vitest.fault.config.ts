import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:fault`): real server processes on Bun while PostgreSQL restarts,
 * the pool is held, instances are sent SIGTERM behind a proxy and the Redis rate-limit store goes
 * away. Each file prints the counts it measured.
 *
 * One file at a time: faults are timing-sensitive, and two scenarios loading the same two cores
 * would measure each other rather than the server.
 */
export default defineConfig({
  test: {
    include: ['tests/fault/**/*.test.ts'],
    // One PostgreSQL for the files that need only a database of their own (the restart scenario
    // starts its own, which it stops and starts).
    globalSetup: ['tests/helpers/global-setup.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
