/**
 * DOM building without innerHTML: every piece of text goes through textContent, so data from the
 * server (API key names, audit details) can never become markup.
 */
export type Child = Node | string | number | null | undefined | false;
type Attributes = Record<string, string | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function button(label: string, onClick: () => void, attributes: Attributes = {}): HTMLButtonElement {
  const element = h('button', { type: 'button', ...attributes }, label);
  element.addEventListener('click', onClick);
  return element;
}

export interface Column<T> {
  header: string;
  cell: (row: T) => Child;
}

/** A table with a caption (its accessible name) and header cells scoped to their columns. */
export function table<T>(caption: string, columns: Column<T>[], rows: readonly T[]): HTMLElement {
  const head = h('tr', {}, ...columns.map((column) => h('th', { scope: 'col' }, column.header)));
  const body = h('tbody');
  for (const row of rows)
    body.appendChild(h('tr', {}, ...columns.map((column) => h('td', {}, column.cell(row)))));
  if (rows.length === 0)
    body.appendChild(h('tr', {}, h('td', { colspan: String(columns.length) }, 'None yet')));
  return h(
    'div',
    { class: 'table-wrap' },
    h('table', {}, h('caption', {}, caption), h('thead', {}, head), body),
  );
}

export function formatNumber(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined) return '–';
  return Number.isInteger(value) ? String(value) : value.toFixed(digits);
}

export function formatDate(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : '–';
}

/**
 * A modal dialog: <dialog>.showModal() traps focus and closes on Escape; focus goes back to what
 * opened it when it closes.
 */
export function openDialog(title: string, ...content: Child[]): HTMLDialogElement {
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const titleId = `dialog-title-${Math.random().toString(36).slice(2)}`;
  const dialog = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), ...content);
  const close = button('Close', () => dialog.close(), { class: 'primary' });
  dialog.appendChild(h('div', { class: 'actions' }, close));
  dialog.addEventListener('close', () => {
    dialog.remove();
    opener?.focus();
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  close.focus();
  return dialog;
}

/** Asks before a destructive action; resolves true when confirmed. */
export function confirmAction(question: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    let confirmed = false;
    const dialog = openDialog(
      'Please confirm',
      h('p', {}, question),
      button(
        confirmLabel,
        () => {
          confirmed = true;
          dialog.close();
        },
        { class: 'danger' },
      ),
    );
    dialog.addEventListener('close', () => resolve(confirmed));
  });
}

/**
 * A label above its control (the label's `for` is the control's id); a hint below it becomes
 * part of the control's accessible description. A checkbox comes before its label.
 */
export function field(
  label: string,
  control: HTMLElement,
  options: { hint?: string; wide?: boolean } = {},
): HTMLElement {
  const hintId = options.hint ? `${control.id}-hint` : undefined;
  const described = control.getAttribute('aria-describedby');
  if (hintId && !described?.split(' ').includes(hintId))
    control.setAttribute('aria-describedby', described ? `${hintId} ${described}` : hintId);
  const checkbox = control instanceof HTMLInputElement && control.type === 'checkbox';
  const classes = ['field', checkbox ? 'field-check' : '', options.wide ? 'wide' : '']
    .filter(Boolean)
    .join(' ');
  return h(
    'div',
    { class: classes },
    h('label', { for: control.id }, label),
    control,
    hintId ? h('small', { id: hintId }, options.hint) : null,
  );
}
