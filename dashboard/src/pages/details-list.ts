import { h } from '../dom';

/**
 * Details (of an audit event, a deployment event) as a list of name: value, in words rather than
 * JSON: what a person reads, with nested values flattened to text.
 */
export function detailsList(values: Record<string, unknown>): Node | string {
  // Nothing to say about an empty list or an absent value: left out rather than shown as "none".
  const entries = Object.entries(values).filter(
    ([, value]) => value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0),
  );
  if (entries.length === 0) return '–';
  return h(
    'dl',
    { class: 'details' },
    ...entries.flatMap(([name, value]) => [h('dt', {}, words(name)), h('dd', {}, shown(value))]),
  );
}

/** `actorOrganizationId` → "actor organization id". */
function words(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replaceAll('_', ' ')
    .toLowerCase();
}

function shown(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.map(shown).join(', ') || 'none';
  if (typeof value === 'object' && value !== null)
    return Object.entries(value)
      .map(([k, v]) => `${words(k)}: ${shown(v)}`)
      .join('; ');
  return String(value);
}
