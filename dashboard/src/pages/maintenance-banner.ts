import { client } from '../api';
import { formatDate, h } from '../dom';

/** How often a page on screen asks again, so a switch on another screen shows within this time. */
const POLL_MS = 15_000;

/**
 * A banner above every page while the platform is in maintenance: everyone signed in is told why
 * their changes are refused (reads go on). Empty, and invisible, when it is off.
 */
export function maintenanceBanner(): { element: HTMLElement; stop: () => void } {
  const element = h('div', { role: 'status', 'data-testid': 'maintenance-banner' });
  let stopped = false;
  const check = async () => {
    try {
      const state = await client.devops.maintenance.get.query();
      if (stopped) return;
      element.className = state.enabled ? 'maintenance-banner' : '';
      element.replaceChildren(
        ...(state.enabled
          ? [
              h('strong', {}, 'Maintenance: '),
              state.message || 'changes are paused for now.',
              h('small', { class: 'muted' }, ` Since ${formatDate(state.since)}; reading still works.`),
            ]
          : []),
      );
    } catch {
      // The banner is a courtesy: a failed check leaves it as it was.
    }
  };
  void check();
  const timer = setInterval(check, POLL_MS);
  return {
    element,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
