import { allowingHost, type OutboundPolicy } from '../../base/outbound/index';
import type { DeploymentTarget, MetricQuerier } from './contracts';
import { PrometheusQuerier } from './prometheus-querier';
import { TargetMetricsQuerier } from './target-metrics-querier';

const QUERY_TIMEOUT_MS = 5_000;
// Queriers keep scrape history (rate() needs two samples): one per deployment, bounded.
const MAX_KEPT = 200;

/**
 * Where a deployment's analysis gets its numbers: the new version's own /metrics when the
 * deployment names them (`providerConfig.metricsTargets`), otherwise the Prometheus server at
 * `prometheusUrl` (DEPLOY_PROMETHEUS_URL). Without either, every measurement errors and the
 * analysis fails: a deployment is never promoted on numbers nobody measured.
 *
 * Both go through the outbound policy (purpose metrics). The operator set DEPLOY_PROMETHEUS_URL,
 * so its host is allowed wherever it is; a metricsTargets URL comes from a user and is not.
 */
export function metricSources(options: {
  prometheusUrl: string | undefined;
  outbound: OutboundPolicy;
}): (target: DeploymentTarget) => MetricQuerier {
  const { prometheusUrl, outbound } = options;
  const kept = new Map<string, MetricQuerier>();
  const prometheus = prometheusUrl
    ? new PrometheusQuerier({
        url: prometheusUrl,
        timeoutMs: QUERY_TIMEOUT_MS,
        outbound: allowingHost(
          outbound,
          'metrics',
          new URL(prometheusUrl).hostname.replace(/^\[(.*)\]$/, '$1'),
        ),
      })
    : null;
  return (target) => {
    const urls = target.providerConfig.metricsTargets;
    if (Array.isArray(urls) && urls.length > 0) {
      const key = `${target.deploymentId} ${target.version}`;
      let querier = kept.get(key);
      if (!querier) {
        querier = new TargetMetricsQuerier({
          targets: () => urls.map(String),
          timeoutMs: QUERY_TIMEOUT_MS,
          outbound,
        });
        kept.set(key, querier);
        if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value as string);
      }
      return querier;
    }
    if (prometheus) return prometheus;
    return {
      kind: 'prometheus',
      async query() {
        throw new Error('no metrics source: set DEPLOY_PROMETHEUS_URL or the provider config metricsTargets');
      },
    };
  };
}
