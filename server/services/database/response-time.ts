import type { HealthCheckResult } from '../../../shared/system';

/** A round trip slower than this makes the database check warn (origin and edge alike). */
const SLOW_MS = 1000;

/** The `database:responseTime` check of a health report, from one measured round trip. */
export function databaseResponseTime(latencyMs: number, time: string): HealthCheckResult {
  return {
    componentId: 'postgresql',
    componentType: 'datastore',
    status: latencyMs > SLOW_MS ? 'warn' : 'pass',
    observedValue: Math.round(latencyMs * 100) / 100,
    observedUnit: 'ms',
    time,
  };
}
