import type { Policy } from '../trpc';

/** Who may call a procedure, in words (docs/api.md's table and the OpenAPI document). */
export function policyText(policy: Policy | undefined): string {
  switch (policy?.kind) {
    case undefined:
      return 'MISSING';
    case 'public':
      return 'anyone';
    case 'authenticated':
      return 'any signed-in user or API key';
    case 'session':
      return 'a signed-in user (no API key), on their own account';
    case 'role':
      return `organization ${policy.role} or above · key scope \`${policy.scope}\``;
    case 'platform':
      return `platform ${policy.role} or above · key scope \`${policy.scope}\``;
  }
}
