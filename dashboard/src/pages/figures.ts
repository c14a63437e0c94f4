import { type Column, formatNumber, h, table } from '../dom';

/** One figure: its label, the suffix of its test id, and its formatted value. */
export type Figure = [label: string, id: string, value: string];

/** A row of labelled figures (a description list), each value findable by `${prefix}-${id}`. */
export function figures(prefix: string, items: Figure[]): HTMLElement {
  return h(
    'dl',
    { class: 'stats' },
    ...items.map(([name, id, value]) =>
      h('div', { class: 'stat' }, h('dt', {}, name), h('dd', { 'data-testid': `${prefix}-${id}` }, value)),
    ),
  );
}

/** A share (0–1) as a percentage; '–' when unknown. */
export function formatPercent(share: number | null | undefined): string {
  return share === null || share === undefined ? '–' : `${formatNumber(share * 100, 1)} %`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes in binary units (1.5 MiB); '–' when unknown. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '–';
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${formatNumber(value, 1)} ${UNITS[unit]}`;
}

/** `table()` whose wrapper carries a class, for page-specific column rules. */
export function tableOf<T>(className: string, caption: string, columns: Column<T>[], rows: readonly T[]) {
  const wrap = table(caption, columns, rows);
  wrap.classList.add(className);
  return wrap;
}
