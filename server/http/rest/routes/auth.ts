import { apiKeyView, whoAmI } from '../../../../shared/auth';
import { restRoutes } from '../route';

/** REST routes of `auth.*` (docs/api.md, "REST"). */
export const authRoutes = restRoutes({
  'auth.me': {
    method: 'GET',
    path: '/me',
    summary: 'Who the caller is: user or API key, organization, roles, key scopes',
    output: whoAmI,
  },
  'auth.apiKeys.get': {
    method: 'GET',
    path: '/api-keys/{id}',
    summary: 'One API key of your organization (operators: their own)',
    output: apiKeyView,
  },
});
