import { client } from '../api';
import { formatNumber, h, table } from '../dom';
import { figures, formatBytes, formatPercent } from './figures';
import { refresher } from './refresher';

const RESOURCE_NAMES = { cpu: 'CPU', database: 'Database pool', memory: 'Memory' } as const;

/**
 * The Capacity section of the Performance page: measured throughput and costs, how much of each
 * resource is in use, and how far throughput can grow before the first one saturates.
 */
export function renderCapacitySection(section: HTMLElement): () => void {
  const body = h('div');
  section.replaceChildren(h('h2', { id: 'capacity-title' }, 'Capacity'), body);
  section.setAttribute('aria-labelledby', 'capacity-title');
  const capacity = refresher(
    body,
    () => client.performance.capacity.query(),
    (data) => {
      const { pool, memory } = data;
      // Below the traffic an estimate needs, every extrapolated figure says so instead of a number.
      const refused = data.estimateReason ?? 'not known yet';
      const first = data.bottleneck ? RESOURCE_NAMES[data.bottleneck] : refused;
      return h(
        'div',
        {},
        figures('capacity', [
          ['Throughput', 'throughput', `${formatNumber(data.throughput.requestsPerSecond)} req/s`],
          [
            'Requests in the window',
            'requests-in-window',
            `${formatNumber(data.requestsInWindow, 0)} (an estimate needs ${data.minimumRequestsToEstimate})`,
          ],
          ['CPU seconds per request', 'cpu-per-request', formatNumber(data.cpu.secondsPerRequest, 5)],
          ['CPU utilisation', 'cpu', formatPercent(data.cpu.utilization)],
          ['Event-loop utilisation', 'event-loop', formatPercent(data.eventLoop.utilization)],
          ['Database connections in use', 'pool', `${pool.inUse} of ${pool.max}`],
          ['Waiting for a connection', 'pool-waiting', formatNumber(pool.waiting)],
          ['Memory (RSS)', 'memory', `${formatBytes(memory.rssBytes)} of ${formatBytes(memory.limitBytes)}`],
          ['Heap used', 'heap', formatBytes(memory.heapUsedBytes)],
          ['Headroom', 'headroom', data.headroom === null ? refused : `${formatNumber(data.headroom, 1)}×`],
          ['Saturates first', 'bottleneck', first],
          [
            'Estimated maximum',
            'max-rps',
            data.estimatedMaxRequestsPerSecond === null
              ? refused
              : `${formatNumber(data.estimatedMaxRequestsPerSecond, 0)} req/s`,
          ],
        ]),
        table(
          data.windowSeconds === null
            ? 'Resources (not measured yet)'
            : `Resources, measured over the last ${formatNumber(data.windowSeconds, 0)} s`,
          [
            { header: 'Resource', cell: (r) => RESOURCE_NAMES[r.resource] },
            { header: 'Utilisation', cell: (r) => formatPercent(r.utilization) },
            {
              header: 'Saturates at (req/s)',
              cell: (r) => formatNumber(r.saturationRequestsPerSecond, 0),
            },
          ],
          data.resources,
        ),
        data.notes.length > 0
          ? h('ul', { class: 'notes', 'aria-label': 'Notes' }, ...data.notes.map((note) => h('li', {}, note)))
          : null,
      );
    },
    5_000,
  );
  return capacity.stop;
}
