import { client, describeError } from '../api';
import { button, formatNumber, h, table } from '../dom';
import { figures, formatBytes, formatPercent } from './figures';
import { refresher, status } from './refresher';

type WarmResult = Awaited<ReturnType<typeof client.performance.cache.warm.mutate>>['results'][number];

/**
 * The Cache section of the Performance page: this instance's cache figures, other caches' by
 * source, the warmers with their last results, and a button that runs them all now.
 */
export function renderCacheSection(section: HTMLElement): () => void {
  const stats = h('div');
  const warmed = h('div', { 'aria-live': 'polite' });
  const warm = button('Warm caches', () => void runWarmers(), { class: 'primary' });
  section.replaceChildren(
    h('h2', { id: 'cache-title' }, 'Cache'),
    h('div', { class: 'toolbar' }, warm),
    warmed,
    stats,
  );
  section.setAttribute('aria-labelledby', 'cache-title');

  const cache = refresher(
    stats,
    () => client.performance.cache.stats.query(),
    (data) =>
      h(
        'div',
        {},
        figures('cache', [
          ['Hits', 'hits', formatNumber(data.hits)],
          ['Misses', 'misses', formatNumber(data.misses)],
          ['Stale hits', 'stale-hits', formatNumber(data.staleHits)],
          ['Hit rate', 'hit-rate', formatPercent(data.hitRatio)],
          ['Entries', 'entries', `${data.entries} of ${data.maxEntries}`],
          ['Size', 'bytes', `${formatBytes(data.bytes)} of ${formatBytes(data.maxBytes)}`],
          ['Evictions', 'evictions', formatNumber(data.evictions)],
          ['Loads', 'loads', formatNumber(data.loads)],
          ['Failed loads', 'load-errors', formatNumber(data.loadErrors)],
          ['Mean load', 'load-mean', `${formatNumber(data.loadTimeMs.mean)} ms`],
        ]),
        h(
          'p',
          {},
          `Evictions by reason: size ${data.evictionsByReason.size}, entries ${data.evictionsByReason.entries}, ` +
            `expired ${data.evictionsByReason.expired}. Invalidations: ${data.invalidation.published} sent ` +
            `(${data.invalidation.publishFailures} failed), ${data.invalidation.received} received.`,
        ),
        table(
          'Other caches by source',
          [
            { header: 'Source', cell: ([source]) => h('code', {}, source) },
            {
              header: 'Figures',
              cell: ([, values]) =>
                Object.entries(values)
                  .map(([figure, value]) => `${figure} ${formatNumber(value)}`)
                  .join(', '),
            },
          ],
          Object.entries(data.sources),
        ),
        table(
          `Warmers (registered: ${data.warmers.registered.join(', ') || 'none'}) and their last results`,
          warmColumns,
          data.warmers.last,
        ),
      ),
    5_000,
  );

  async function runWarmers() {
    warm.disabled = true;
    warm.setAttribute('aria-busy', 'true');
    warmed.replaceChildren(h('p', {}, 'Warming…'));
    try {
      const { results } = await client.performance.cache.warm.mutate();
      warmed.replaceChildren(table('Warm results, just now', warmColumns, results));
      await cache.reload();
    } catch (error) {
      warmed.replaceChildren(h('p', { class: 'error', role: 'alert' }, describeError(error)));
    } finally {
      warm.disabled = false;
      warm.removeAttribute('aria-busy');
      // A disabled button loses focus in some browsers: keyboard users get it back.
      if (document.activeElement === document.body) warm.focus();
    }
  }
  return cache.stop;
}

const warmColumns = [
  { header: 'Warmer', cell: (r: WarmResult) => h('code', {}, r.name) },
  { header: 'Entries', cell: (r: WarmResult) => r.entries },
  { header: 'Duration (ms)', cell: (r: WarmResult) => formatNumber(r.durationMs) },
  { header: 'Result', cell: (r: WarmResult) => (r.error ? status('failed') : status('succeeded')) },
  { header: 'Error', cell: (r: WarmResult) => r.error ?? '–' },
];
