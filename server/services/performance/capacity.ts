import type { PoolStats } from '../../../db/connect';
import type { ResourceRates, ResourceSample } from './resource-sampler';

/**
 * Requests the window must hold before capacity is estimated. Idle work (scrapes, the sampler,
 * alert evaluation, timers) costs CPU and query time whatever the traffic; divided by a trickle
 * of requests it makes each look expensive, and an instance that serves thousands a second was
 * "estimated" at 62. From a thousand requests a minute (~17/s) the requests' own cost dominates.
 */
export const MIN_REQUESTS_TO_ESTIMATE = 1_000;

/** Why `estimatedMaxRequestsPerSecond` is null with enough samples: too few requests to trust. */
export const NOT_ENOUGH_TRAFFIC = 'not enough traffic to estimate';

/** What capacity is computed from: measured rates and the current state of pool and memory. */
export interface CapacityInput {
  /** Rates over the measuring window; null until two samples exist. */
  rates: ResourceRates | null;
  pool: Pick<PoolStats, 'total' | 'idle' | 'waiting' | 'max'>;
  latest: ResourceSample;
  /** The most memory the process may use (container limit, or the heap limit), in bytes. */
  memoryLimitBytes: number | null;
}

/** One resource's use now and the throughput at which it would saturate. */
export interface ResourceHeadroom {
  resource: 'cpu' | 'database' | 'memory';
  /** Share in use now, 0–1 (null when unknown). */
  utilization: number | null;
  /** Requests a second at which this resource is fully used, from measured costs; null if unknown. */
  saturationRequestsPerSecond: number | null;
}

export interface CapacityReport {
  windowSeconds: number | null;
  throughput: { requestsPerSecond: number | null };
  cpu: { utilization: number | null; secondsPerRequest: number | null };
  eventLoop: { utilization: number | null };
  pool: { max: number; inUse: number; waiting: number; utilization: number; busyConnections: number | null };
  memory: { rssBytes: number; heapUsedBytes: number; limitBytes: number | null; utilization: number | null };
  resources: ResourceHeadroom[];
  /** The resource that saturates first, and how many times today's throughput fits before it does. */
  bottleneck: 'cpu' | 'database' | null;
  headroom: number | null;
  estimatedMaxRequestsPerSecond: number | null;
  /** Requests in the window; null until two samples exist. */
  requestsInWindow: number | null;
  /** Requests the window must hold before saturation, headroom and maximum are estimated. */
  minimumRequestsToEstimate: number;
  /** Why there is no estimate (`not enough traffic to estimate`, or too few samples); null with one. */
  estimateReason: string | null;
  notes: string[];
}

/**
 * Capacity from measured costs. The event loop runs JavaScript on one core, so the CPU bound is
 * one CPU-second per second: at `s` CPU seconds per request, saturation is 1/s requests a second.
 * The database bound is the pool: each request holds connections for `busy / rps` seconds on
 * average, so `max` connections saturate at `max / (busy / rps)` requests a second. Headroom is
 * the lower bound over today's throughput. Memory has no per-request cost model; it is reported
 * as utilisation of its limit. Below `MIN_REQUESTS_TO_ESTIMATE` requests in the window nothing
 * is extrapolated: saturation points, bottleneck, headroom and maximum are null, and
 * `estimateReason` says why.
 */
export function estimateCapacity({ rates, pool, latest, memoryLimitBytes }: CapacityInput): CapacityReport {
  const notes: string[] = [];
  const rps = rates?.requestsPerSecond ?? null;
  const requestsInWindow = rates ? Math.round(rates.requestsPerSecond * rates.seconds) : null;
  const enoughTraffic = requestsInWindow !== null && requestsInWindow >= MIN_REQUESTS_TO_ESTIMATE;
  const cpuPerRequest = rates?.cpuSecondsPerRequest ?? null;
  const cpuSaturation = enoughTraffic && cpuPerRequest && cpuPerRequest > 0 ? 1 / cpuPerRequest : null;
  const busy = rates?.databaseBusyConnections ?? null;
  const dbSecondsPerRequest = busy !== null && rps && rps > 0 ? busy / rps : null;
  const dbSaturation =
    enoughTraffic && dbSecondsPerRequest && dbSecondsPerRequest > 0 ? pool.max / dbSecondsPerRequest : null;
  const inUse = pool.total - pool.idle;

  let estimateReason: string | null = null;
  if (!rates) {
    estimateReason = 'not enough samples yet';
    notes.push('not enough samples yet: capacity needs two samples some seconds apart');
  } else if (!enoughTraffic) {
    estimateReason = NOT_ENOUGH_TRAFFIC;
    notes.push(
      `${NOT_ENOUGH_TRAFFIC}: ${requestsInWindow} requests in the last ${Math.round(rates.seconds)} s, ` +
        `at least ${MIN_REQUESTS_TO_ESTIMATE} are needed before idle work stops dominating the cost per request`,
    );
  }
  if (rates && rates.eventLoopUtilization === null)
    notes.push('this runtime does not report event-loop utilisation; CPU utilisation stands in for it');

  const resources: ResourceHeadroom[] = [
    {
      resource: 'cpu',
      utilization: rates?.cpuUtilization ?? null,
      saturationRequestsPerSecond: cpuSaturation,
    },
    {
      resource: 'database',
      utilization: busy !== null ? busy / pool.max : null,
      saturationRequestsPerSecond: dbSaturation,
    },
    {
      resource: 'memory',
      utilization: memoryLimitBytes ? latest.rssBytes / memoryLimitBytes : null,
      saturationRequestsPerSecond: null,
    },
  ];
  const bounded = resources.filter(
    (r): r is ResourceHeadroom & { resource: 'cpu' | 'database'; saturationRequestsPerSecond: number } =>
      r.saturationRequestsPerSecond !== null && r.resource !== 'memory',
  );
  const first = bounded.sort((a, b) => a.saturationRequestsPerSecond - b.saturationRequestsPerSecond)[0];
  return {
    windowSeconds: rates?.seconds ?? null,
    throughput: { requestsPerSecond: rps },
    cpu: { utilization: rates?.cpuUtilization ?? null, secondsPerRequest: cpuPerRequest },
    eventLoop: { utilization: rates?.eventLoopUtilization ?? rates?.cpuUtilization ?? null },
    pool: {
      max: pool.max,
      inUse,
      waiting: pool.waiting,
      utilization: pool.max > 0 ? inUse / pool.max : 0,
      busyConnections: busy,
    },
    memory: {
      rssBytes: latest.rssBytes,
      heapUsedBytes: latest.heapUsedBytes,
      limitBytes: memoryLimitBytes,
      utilization: memoryLimitBytes ? latest.rssBytes / memoryLimitBytes : null,
    },
    resources,
    bottleneck: first?.resource ?? null,
    headroom: first && rps ? first.saturationRequestsPerSecond / rps : null,
    estimatedMaxRequestsPerSecond: first?.saturationRequestsPerSecond ?? null,
    requestsInWindow,
    minimumRequestsToEstimate: MIN_REQUESTS_TO_ESTIMATE,
    estimateReason: first ? null : (estimateReason ?? 'no resource has a measured cost per request'),
    notes,
  };
}
