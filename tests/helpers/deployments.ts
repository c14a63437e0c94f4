import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/database';
import type {
  DeploymentProvider,
  DeploymentTarget,
  MetricQuerier,
} from '../../server/services/deployments/contracts';
import type { Role } from '../../shared/auth';
import type { AnalysisSpec } from '../../shared/devops-deployments';

/** The key-encryption key of the tests: provider secrets are sealed under it. */
export const TEST_DEPLOYMENT_KEK = new Uint8Array(32).fill(9);

/** One call a provider received. */
export interface ProviderCall {
  deploymentId: string;
  call: 'prepare' | 'setWeight' | 'scale' | 'promote' | 'rollback';
  /** setWeight's weight, scale's `updated/total`. */
  argument?: string;
  version: string;
  stableVersion: string | null;
}

/**
 * Stands in for the system a real provider drives (a load balancer, a cluster): records every call,
 * fails the calls it is told to, and notices two calls for one deployment overlapping (which only
 * two drivers of one deployment could cause).
 */
export class RecordingProvider implements DeploymentProvider {
  readonly calls: ProviderCall[] = [];
  /** Calls for one deployment that started while another for it was under way. */
  overlaps = 0;
  private readonly inFlight = new Set<string>();
  private readonly failures: { call: ProviderCall['call']; remaining: number; message: string }[] = [];

  constructor(
    readonly kind = 'memory',
    private readonly delayMs = 5,
  ) {}

  /** Provider configurations the registry was asked to build with, as received (secrets opened). */
  readonly configs: Record<string, unknown>[] = [];

  /** The registry an engine and a service take: this provider for its kind, a refusal for any other. */
  readonly providerFor = (kind: string, config: Record<string, unknown>): DeploymentProvider => {
    if (kind !== this.kind) throw new Error(`unknown provider kind '${kind}': use ${this.kind}`);
    this.configs.push(config);
    return this;
  };

  /** The next `times` calls named `call` throw `message`. */
  failNext(call: ProviderCall['call'], times: number, message = `${call} refused by the test`): void {
    this.failures.push({ call, remaining: times, message });
  }

  /** The calls for one deployment, as `name` or `name(argument)`. */
  callsFor(deploymentId: string): string[] {
    return this.calls
      .filter((c) => c.deploymentId === deploymentId)
      .map((c) => (c.argument === undefined ? c.call : `${c.call}(${c.argument})`));
  }

  prepare(target: DeploymentTarget) {
    return this.record(target, 'prepare');
  }
  setWeight(target: DeploymentTarget, weight: number) {
    return this.record(target, 'setWeight', String(weight));
  }
  scale(target: DeploymentTarget, progress: { updated: number; total: number }) {
    return this.record(target, 'scale', `${progress.updated}/${progress.total}`);
  }
  promote(target: DeploymentTarget) {
    return this.record(target, 'promote');
  }
  rollback(target: DeploymentTarget) {
    return this.record(target, 'rollback');
  }

  private async record(
    target: DeploymentTarget,
    call: ProviderCall['call'],
    argument?: string,
  ): Promise<void> {
    if (this.inFlight.has(target.deploymentId)) this.overlaps++;
    this.inFlight.add(target.deploymentId);
    try {
      await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      const failure = this.failures.find((f) => f.call === call && f.remaining > 0);
      if (failure) {
        failure.remaining--;
        throw new Error(failure.message);
      }
      this.calls.push({
        deploymentId: target.deploymentId,
        call,
        ...(argument === undefined ? {} : { argument }),
        version: target.version,
        stableVersion: target.stableVersion,
      });
    } finally {
      this.inFlight.delete(target.deploymentId);
    }
  }
}

/**
 * A metric source answering from a script: the error rate of each version, as Prometheus would
 * report it for a good build and a bad one. `null` is a query that found no series.
 */
export function scriptedQuerier(
  errorRateOf: (version: string) => number | null,
): MetricQuerier & { queries: number } {
  const querier = {
    kind: 'prometheus' as const,
    queries: 0,
    async query(_expression: string, context: { deploymentId: string; version: string }) {
      querier.queries++;
      return errorRateOf(context.version);
    },
  };
  return querier;
}

/** Error rate below 5 % passes, above 10 % fails, in between is inconclusive. */
export function errorRateAnalysis(overrides: Partial<AnalysisSpec> = {}): AnalysisSpec {
  return {
    metrics: [
      {
        name: 'error-rate',
        query: 'sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))',
        successCondition: { op: '<', value: 0.05 },
        failureCondition: { op: '>', value: 0.1 },
      },
    ],
    intervalSeconds: 0.1,
    count: 3,
    failureLimit: 0,
    inconclusiveLimit: 0,
    ...overrides,
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A fresh organization and one of its users, as the actor the procedures would pass. */
export async function newOrganizationUser(
  db: Kysely<Database>,
  role: Role = 'operator',
): Promise<{ organizationId: string; userId: string; ip: string; userAgent: string }> {
  const organization = await db
    .insertInto('organizations')
    .values({ name: `org-${randomBytes(3).toString('hex')}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  const user = await db
    .insertInto('users')
    .values({
      organization_id: organization.id,
      email: `${role}-${randomBytes(6).toString('hex')}@example.com`,
      password_hash: 'not-a-real-hash',
      role,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return {
    organizationId: organization.id,
    userId: user.id,
    ip: '203.0.113.9',
    userAgent: 'deployments-test',
  };
}
