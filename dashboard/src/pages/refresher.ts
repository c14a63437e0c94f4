import { describeError } from '../api';
import { h } from '../dom';

/**
 * Loads a page's data now and every `intervalMs` (0: once), drawing it into `target`; a failed
 * load shows its message in an alert region instead of the stale data. Returns the stopper and
 * a function to reload at once (after an action).
 */
export function refresher<T>(
  target: HTMLElement,
  load: () => Promise<T>,
  draw: (data: T) => Node,
  intervalMs = 0,
): { stop: () => void; reload: () => Promise<void> } {
  let stopped = false;
  const reload = async () => {
    try {
      const data = await load();
      if (!stopped) target.replaceChildren(draw(data));
    } catch (error) {
      if (!stopped) target.replaceChildren(h('p', { class: 'error', role: 'alert' }, describeError(error)));
    }
  };
  void reload();
  const timer = intervalMs > 0 ? setInterval(reload, intervalMs) : undefined;
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    reload,
  };
}

export function status(text: string): HTMLElement {
  return h('span', { class: `status status-${text.replace(/[^a-z_]/gi, '')}` }, text);
}
