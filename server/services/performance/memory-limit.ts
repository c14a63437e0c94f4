import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

/**
 * The most memory this process may use: the container's limit (cgroup v2 `memory.max`, or v1's
 * `memory.limit_in_bytes`) when there is one, else the JavaScript heap's limit. Null when neither
 * can be read (some runtimes lack v8's statistics).
 */
export function memoryLimitBytes(): number | null {
  for (const file of ['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']) {
    try {
      const text = readFileSync(file, 'utf8').trim();
      const bytes = Number(text);
      // "max", or v1's "no limit" (a huge number near 2^63), mean unlimited.
      if (Number.isFinite(bytes) && bytes > 0 && bytes < 2 ** 60) return bytes;
    } catch {
      // Not in a container, or not Linux.
    }
  }
  try {
    const limit = getHeapStatistics().heap_size_limit;
    return limit > 0 ? limit : null;
  } catch {
    return null;
  }
}
