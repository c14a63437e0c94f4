import type { RequestAnalytics } from './analytics';
import type { MetricHistory } from './metric-history';
import type { QueryMonitor } from './query-monitor';
import type { ResourceSampler } from './resource-sampler';

/** What the performance router reads: built once per app by buildDependencies. */
export interface PerformanceServices {
  analytics: RequestAnalytics;
  queries: QueryMonitor;
  history: MetricHistory;
  sampler: ResourceSampler;
}
