import uPlot from 'uplot';
import type { HistoryPoint, HistoryRange, PerformanceHistory } from '../../../shared/performance-history';
import type { Annotation } from '../../../shared/system';
import { client } from '../api';
import { h } from '../dom';

const HEIGHT = 200;

/** The ranges the picker offers, in its order (a Record, so the compiler holds it to the schema's list). */
const RANGE_LABELS: Record<HistoryRange, string> = {
  '15m': '15 min',
  '1h': '1 h',
  '6h': '6 h',
  '24h': '24 h',
};
const RANGES = Object.keys(RANGE_LABELS) as HistoryRange[];

function isRange(value: string | null): value is HistoryRange {
  return value !== null && Object.hasOwn(RANGE_LABELS, value);
}
const STORAGE_KEY = 'history-range';

export interface ChartLine {
  label: string;
  stroke: string;
  value: (point: HistoryPoint) => number | null;
}

/** What one chart shows: its title, the unit on its value axis and its lines. */
export interface ChartSpec {
  title: string;
  id: string;
  unit: string;
  lines: ChartLine[];
}

/**
 * The range in the page's URL (`#/overview?range=6h`), else the last one picked in this browser,
 * else one hour: a reload or a shared link shows the same span.
 */
export function chosenRange(): HistoryRange {
  const query = new URLSearchParams(window.location.hash.split('?')[1] ?? '');
  const picked = query.get('range') ?? localStorage.getItem(STORAGE_KEY);
  return isRange(picked) ? picked : '1h';
}

/**
 * Puts `values` into the query of page `pageId`'s URL (`#/pageId?…`, replacing the entry, so Back
 * still leaves the page) and the range into storage.
 */
export function rememberInUrl(pageId: string, values: Record<string, string | null>): void {
  const query = window.location.hash.split('?')[1] ?? '';
  const params = new URLSearchParams(query);
  for (const [name, value] of Object.entries(values)) {
    if (value === null) params.delete(name);
    else params.set(name, value);
  }
  if (values.range) localStorage.setItem(STORAGE_KEY, values.range);
  const text = params.toString();
  window.history.replaceState(null, '', `${window.location.pathname}#/${pageId}${text ? `?${text}` : ''}`);
}

/** Buttons for the ranges, the current one pressed. */
export function rangePicker(current: HistoryRange, onPick: (range: HistoryRange) => void): HTMLElement {
  const group = h('div', { class: 'range-picker', role: 'group', 'aria-label': 'Time range' });
  const buttons = RANGES.map((range) => {
    const element = h(
      'button',
      { type: 'button', 'data-range': range, 'aria-pressed': String(range === current) },
      RANGE_LABELS[range],
    );
    element.addEventListener('click', () => {
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === element));
      onPick(range);
    });
    return element;
  });
  group.append(h('span', { class: 'range-label' }, 'Time range'), ...buttons);
  return group;
}

/** The signed-in user's organization's annotations (newest 200), for the markers; none when refused. */
export async function loadAnnotations(): Promise<Annotation[]> {
  try {
    return (await client.system.annotations.list.query({ limit: 200 })).items;
  } catch {
    return [];
  }
}

/**
 * A uPlot plugin drawing annotations as vertical markers: an element per annotation over the
 * plot, so its text is its tooltip (hover) and its accessible name.
 */
function annotationMarkers(annotations: () => Annotation[]): uPlot.Plugin {
  let layer: HTMLElement | null = null;
  const place = (u: uPlot) => {
    if (!layer) return;
    const [min, max] = [u.scales.x?.min ?? 0, u.scales.x?.max ?? 0];
    const markers = annotations()
      .map((a) => ({ a, at: Date.parse(a.createdAt) / 1000 }))
      .filter(({ at }) => at >= min && at <= max)
      .map(({ a, at }) => {
        const text = `${new Date(a.createdAt).toLocaleString()}: ${a.text}`;
        const marker = h('div', {
          class: 'annotation-marker',
          'data-testid': 'annotation-marker',
          title: text,
          'aria-label': `Annotation: ${text}`,
          role: 'img',
        });
        marker.style.left = `${u.valToPos(at, 'x')}px`;
        return marker;
      });
    layer.replaceChildren(...markers);
  };
  return {
    hooks: {
      init: (u) => {
        layer = h('div', { class: 'annotation-layer' });
        u.over.appendChild(layer);
      },
      draw: place,
    },
  };
}

/**
 * Which points of a line get a dot: those with no value on either side (a lone busy minute
 * between idle ones), which a line alone would not show at all.
 */
function isolatedPoints(u: uPlot, seriesIdx: number): number[] {
  const values = u.data[seriesIdx] ?? [];
  const lone: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) continue;
    if (values[i - 1] == null && values[i + 1] == null) lone.push(i);
  }
  return lone;
}

/** A titled uPlot chart of history points, units on both axes, annotations as markers. */
export class HistoryChart {
  private readonly plot: uPlot;
  private annotations: Annotation[] = [];
  /** The range asked for, in seconds: the x axis spans it whole, up to now (where new annotations are). */
  private span: [number, number] = [0, 1];

  constructor(
    private readonly box: HTMLElement,
    private readonly spec: ChartSpec,
  ) {
    box.classList.add('chart');
    box.setAttribute('aria-label', `${spec.title} over time`);
    box.dataset.testid = `chart-${spec.id}`;
    const canvas = h('div');
    box.replaceChildren(h('figcaption', { class: 'chart-title' }, spec.title), canvas);
    this.plot = new uPlot(
      {
        width: this.width(),
        height: HEIGHT,
        series: [
          {},
          ...spec.lines.map((line) => ({
            label: line.label,
            stroke: line.stroke,
            width: 2,
            points: { show: true, size: 6, fill: line.stroke, filter: isolatedPoints },
          })),
        ],
        axes: [
          { label: 'Time', labelSize: 20 },
          { label: spec.unit, labelSize: 20, size: 56 },
        ],
        // Values from zero, so a flat line of zeros sits at the bottom instead of mid-chart.
        scales: {
          x: { time: true, range: () => this.span },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        },
        legend: { show: true },
        plugins: [annotationMarkers(() => this.annotations)],
      },
      [[]],
      canvas,
    );
  }

  /** Draws `history`, and `annotations` inside its range. */
  update(history: PerformanceHistory, annotations: Annotation[]): void {
    this.annotations = annotations;
    this.span = [Date.parse(history.from) / 1000, Date.parse(history.to) / 1000];
    const times = history.points.map((p) => Date.parse(p.at) / 1000);
    const lines = this.spec.lines.map((line) => history.points.map((p) => line.value(p)));
    // Minutes with requests: what a reader (and the browser tests) can tell an empty chart by.
    this.box.dataset.points = String(history.points.filter((p) => p.requests > 0).length);
    this.plot.setData([times, ...lines] as uPlot.AlignedData);
  }

  resize(): void {
    this.plot.setSize({ width: this.width(), height: HEIGHT });
  }

  destroy(): void {
    this.plot.destroy();
  }

  private width(): number {
    return Math.max(260, this.box.clientWidth - 16 || 320);
  }
}

/** The three charts of a history: requests, errors (4xx and 5xx apart) and latency percentiles. */
export const REQUESTS_CHART: ChartSpec = {
  title: 'Requests per second',
  id: 'requests',
  unit: 'Requests/s',
  lines: [{ label: 'Requests/s', stroke: '#2563eb', value: (p) => p.requestsPerSecond }],
};
export const ERRORS_CHART: ChartSpec = {
  title: 'Errors per second (4xx and 5xx)',
  id: 'errors',
  unit: 'Errors/s',
  lines: [
    { label: '4xx/s', stroke: '#d97706', value: (p) => p.clientErrorsPerSecond },
    { label: '5xx/s', stroke: '#dc2626', value: (p) => p.serverErrorsPerSecond },
  ],
};
export const LATENCY_CHART: ChartSpec = {
  title: 'Latency percentiles',
  id: 'latency',
  unit: 'ms',
  lines: [
    { label: 'p50 (ms)', stroke: '#16a34a', value: (p) => p.p50Ms },
    { label: 'p95 (ms)', stroke: '#d97706', value: (p) => p.p95Ms },
    { label: 'p99 (ms)', stroke: '#dc2626', value: (p) => p.p99Ms },
  ],
};

/**
 * Charts of one series' history, reloaded every `intervalMs` and on `reload()`; `load` names
 * the series and range. Returns what the page needs to drive and stop it.
 */
export function historyCharts(
  boxes: HTMLElement[],
  specs: ChartSpec[],
  load: () => Promise<PerformanceHistory>,
  onError: (error: unknown) => void,
  intervalMs = 10_000,
): { reload: () => Promise<void>; stop: () => void } {
  const charts = specs.map((spec, i) => new HistoryChart(boxes[i]!, spec));
  let stopped = false;
  let generation = 0;
  const reload = async () => {
    const mine = ++generation;
    try {
      const [history, annotations] = await Promise.all([load(), loadAnnotations()]);
      // A reply to an older request (a range since changed) is dropped.
      if (stopped || mine !== generation) return;
      for (const chart of charts) chart.update(history, annotations);
    } catch (error) {
      if (!stopped) onError(error);
    }
  };
  void reload();
  const timer = setInterval(reload, intervalMs);
  const resize = () => {
    for (const chart of charts) chart.resize();
  };
  window.addEventListener('resize', resize);
  requestAnimationFrame(resize);
  return {
    reload,
    stop: () => {
      stopped = true;
      clearInterval(timer);
      window.removeEventListener('resize', resize);
      for (const chart of charts) chart.destroy();
    },
  };
}
