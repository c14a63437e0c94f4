import type { HealthCheckResult, HealthReport } from '../../shared/system';
import type { BuildInfo } from '../base/build-info';
import type { Config } from '../base/config';
import type { Initializer } from '../base/initializer';
import type { Lifecycle } from '../base/lifecycle';

/** What the health report is read from. */
export interface HealthSources {
  build: Pick<BuildInfo, 'name' | 'version' | 'commit'>;
  config: Pick<Config, 'HEALTH_DB_TIMEOUT_MS'>;
  initializer: Pick<Initializer, 'components' | 'states'>;
  lifecycle: Pick<Lifecycle, 'isDraining'>;
  startedAt: Date;
}

type Status = HealthCheckResult['status'];

/** Default bound on a component's health measurements; the database has its own (HEALTH_DB_TIMEOUT_MS). */
const DEFAULT_CHECK_TIMEOUT_MS = 1_000;

/**
 * The full health report in the IETF health-check format (draft-inadarei-api-health-check):
 * one entry per `component:measurement`, each bounded by its own timeout so one slow
 * dependency cannot hold the whole answer hostage.
 */
export async function buildHealthReport(deps: HealthSources): Promise<HealthReport> {
  const time = new Date().toISOString();
  const checks: Record<string, HealthCheckResult[]> = {
    'uptime:duration': [
      {
        componentType: 'system',
        status: 'pass',
        observedValue: Math.round((Date.now() - deps.startedAt.getTime()) / 1000),
        observedUnit: 's',
        time,
      },
    ],
  };

  for (const state of deps.initializer.states()) {
    const status: Status = state.status === 'ready' ? 'pass' : state.critical ? 'fail' : 'warn';
    checks[`${state.name}:status`] = [
      {
        componentId: state.name,
        componentType: 'component',
        status,
        observedValue: state.status,
        time,
        // The driver's message may name hosts or users; operators read it in /api/system/status.
        ...(status === 'pass' ? {} : { output: `${state.status}; details in GET /api/system/status` }),
      },
    ];
  }

  const measured = await Promise.all(
    deps.initializer.components().map(async (component) => {
      if (!component.health) return {};
      const timeoutMs =
        component.name === 'database' ? deps.config.HEALTH_DB_TIMEOUT_MS : DEFAULT_CHECK_TIMEOUT_MS;
      try {
        return await withTimeout(component.health(), timeoutMs);
      } catch (error) {
        return {
          [`${component.name}:responseTime`]: [
            {
              componentId: component.name,
              componentType: 'component',
              status: component.critical ? 'fail' : 'warn',
              time,
              output: error instanceof HealthTimeoutError ? error.message : publicMessage(error),
            } satisfies HealthCheckResult,
          ],
        };
      }
    }),
  );
  for (const entries of measured) Object.assign(checks, entries);

  if (deps.lifecycle.isDraining()) {
    checks['instance:draining'] = [{ componentType: 'system', status: 'warn', observedValue: true, time }];
  }

  return {
    status: worst(Object.values(checks).flatMap((list) => list.map((c) => c.status))),
    version: deps.build.version.split('.')[0] ?? deps.build.version,
    releaseId: `${deps.build.version}+${deps.build.commit}`,
    serviceId: deps.build.name,
    description: 'Beauty Crafter Platform API',
    checks,
  };
}

export function worst(statuses: Status[]): Status {
  if (statuses.includes('fail')) return 'fail';
  if (statuses.includes('warn')) return 'warn';
  return 'pass';
}

export class HealthTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
  }
}

export function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HealthTimeoutError(timeoutMs)), timeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * What a public health endpoint may say about a failure: an error code (ECONNREFUSED, a
 * SQLSTATE) but not a driver's message, which can name hosts, users or SQL.
 */
export function publicMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return `error ${code}`;
  return 'unavailable';
}
