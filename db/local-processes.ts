import { createServer } from 'node:net';

/**
 * Small facts about this machine's processes and ports, used by the embedded PostgreSQL and by
 * the test and benchmark harnesses that start servers.
 */

/** Whether a process with this PID exists (EPERM: it exists but belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A port free right now on 127.0.0.1 (the OS picks it; we release it for the server to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port was assigned')),
      );
    });
  });
}

/** Waits (polling) until process `pid` is gone; false if it still exists after `timeoutMs`. */
export async function waitForExit(pid: number | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pid && isAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
