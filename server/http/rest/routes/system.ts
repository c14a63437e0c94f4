import {
  annotation,
  annotationPage,
  healthReport,
  selfTestReport,
  systemInfo,
  systemStatus,
} from '../../../../shared/system';
import { restRoutes } from '../route';

const PAGING =
  'Paged: pass `limit` and, for the next page, the previous answer’s `nextCursor` as `cursor`; ' +
  'the answer is `{ items, nextCursor }`, and a null `nextCursor` means the last page.';

/** REST routes of `system.*` (docs/api.md, "REST"). */
export const systemRoutes = restRoutes({
  'system.health': {
    method: 'GET',
    path: '/system/health',
    summary: 'The health report of this instance (IETF health-check format)',
    description:
      'Answers 200 with the report whatever its `status`: a failing component is `"status": "fail"` ' +
      'in the body (GET /api/health answers such a report with 503, for load balancers).',
    output: healthReport,
  },
  'system.info': {
    method: 'GET',
    path: '/system/info',
    summary: 'Name, version, commit, runtime and uptime of this instance',
    output: systemInfo,
  },
  'system.status': {
    method: 'GET',
    path: '/system/status',
    summary: 'Components, resources, database pool, cache, traffic and configuration (redacted)',
    description: 'Computed at most every two seconds; calls in between get the same figures.',
    output: systemStatus,
  },
  'system.selfTest': {
    method: 'POST',
    path: '/system/self-test',
    summary: 'Exercise every component for real (database write, read and delete; pool; cache; metrics)',
    description:
      'Pass `components` to test only some of them; an unknown name is refused (400). A failing check ' +
      'is `"status": "fail"` in a 200 answer.',
    output: selfTestReport,
  },
  'system.annotations.create': {
    method: 'POST',
    path: '/annotations',
    summary: 'Record an operator annotation on the timeline ("deploy started")',
    description: 'Send an `idempotencyKey` to retry safely: the same key never records a second annotation.',
    output: annotation,
    status: 201,
  },
  'system.annotations.list': {
    method: 'GET',
    path: '/annotations',
    summary: 'Your organization’s annotations, newest first, optionally of one tag',
    description: PAGING,
    output: annotationPage,
  },
});
