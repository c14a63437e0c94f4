import type { Logger } from '../../base/logger';
import type { Keyring } from './keyring';

/**
 * Runs `keyring.maintain()` every `intervalMs` on a timer that does not keep the process alive.
 * A run still under way when the next is due is not doubled; failures are logged, never thrown.
 */
export function startKeyMaintenance(
  keyring: Keyring,
  { intervalMs, logger }: { intervalMs: number; logger?: Logger },
): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    keyring
      .maintain()
      .catch((error) => logger?.error({ err: error }, 'signing key maintenance failed'))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
