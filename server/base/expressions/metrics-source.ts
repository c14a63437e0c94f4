import type { Registry } from 'prom-client';

/**
 * Where alert rules read metrics from: every series' current value, keyed by `seriesKey`. The
 * platform's source reads its prom-client registry; a test can read a registry of its own.
 */
export interface MetricsSource {
  sample(): Promise<Map<string, number>>;
}

/** The series of a prom-client registry, as Prometheus would scrape them (histograms as _bucket, _sum, _count). */
export function registryMetricsSource(registry: Registry): MetricsSource {
  return {
    async sample() {
      const sample = new Map<string, number>();
      for (const metric of await registry.getMetricsAsJSON()) {
        for (const point of metric.values) {
          const name = (point as { metricName?: string }).metricName ?? metric.name;
          const labels: Record<string, string> = {};
          for (const [label, value] of Object.entries(point.labels)) {
            if (value !== undefined) labels[label] = String(value);
          }
          sample.set(seriesKey(name, labels), point.value);
        }
      }
      return sample;
    },
  };
}

/** `name{a="x",b="y"}`, labels sorted and values escaped as in the Prometheus text format. */
export function seriesKey(name: string, labels: Record<string, string>): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return name;
  const pairs = names.map((label) => `${label}="${escapeLabelValue(labels[label] as string)}"`);
  return `${name}{${pairs.join(',')}}`;
}

export interface ParsedSeries {
  name: string;
  labels: Record<string, string>;
}

/** The inverse of `seriesKey`. */
export function parseSeriesKey(key: string): ParsedSeries {
  const brace = key.indexOf('{');
  if (brace === -1) return { name: key, labels: {} };
  const labels: Record<string, string> = {};
  const body = key.slice(brace + 1, -1);
  let i = 0;
  while (i < body.length) {
    const equals = body.indexOf('="', i);
    const label = body.slice(i, equals);
    let value = '';
    let j = equals + 2;
    for (; j < body.length && body[j] !== '"'; j++) {
      if (body[j] === '\\') {
        j++;
        value += body[j] === 'n' ? '\n' : body[j];
      } else value += body[j];
    }
    labels[label] = value;
    i = j + 2; // the closing quote and the comma
  }
  return { name: key.slice(0, brace), labels };
}

function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}
