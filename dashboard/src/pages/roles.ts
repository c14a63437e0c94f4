import type { client } from '../api';
import { h } from '../dom';

/** An organization role. */
export type Role = Parameters<typeof client.auth.users.create.mutate>[0]['role'];

/** Strongest first, as an admin reads the choice; `satisfies` fails the build when a role is added. */
export const ROLE_LABELS = { admin: 'Admin', operator: 'Operator', viewer: 'Viewer' } satisfies Record<
  Role,
  string
>;
const ROLES = Object.keys(ROLE_LABELS) as Role[];

/** A select of the organization roles with `selected` chosen; `attributes` name or label it. */
export function roleSelect(selected: Role, attributes: Record<string, string>): HTMLSelectElement {
  return h(
    'select',
    attributes,
    ...ROLES.map((role) => h('option', { value: role, selected: role === selected }, ROLE_LABELS[role])),
  ) as HTMLSelectElement;
}
