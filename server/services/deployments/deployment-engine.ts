import { randomUUID } from 'node:crypto';
import type { Tracer } from '@opentelemetry/api';
import type { PlatformDatabase } from '../../../db/connect';
import { claimDeployments, releaseLeases, renewLeases } from '../../../db/repositories/deployment-leases';
import type { AuditLog } from '../../base/audit';
import type { Logger } from '../../base/logger';
import { type CallRetryPolicy, DEFAULT_CALL_RETRY } from './call-with-retry';
import { DeploymentDriver } from './deployment-driver';
import type { ProviderFor, QuerierFor, RunAnalysis } from './engine-seams';

export interface DeploymentEngineOptions {
  database: PlatformDatabase;
  providerFor: ProviderFor;
  /** Opens the sealed secrets of provider configurations (several during a key rotation). */
  kek: Uint8Array | readonly Uint8Array[];
  querierFor: QuerierFor;
  runAnalysis: RunAnalysis;
  audit: AuditLog;
  logger: Logger;
  /** Each step (and rollback) a span of its own, the root of a trace (docs/operations.md, "Tracing"). */
  tracer?: Tracer | null;
  /** The lease owner's name; a fresh UUID per engine unless given. */
  instanceId?: string;
  /** How often the engine looks for deployments to take up (default 1 s). */
  pollMs?: number;
  /** How long a lease lasts unrenewed: how soon another instance takes over a dead one's (default 10 s). */
  leaseMs?: number;
  /**
   * How often leases are renewed, and an operator's abort or promotion noticed by a step under way
   * (default a fifth of the lease: a renewal may fail or stall several times before the lease runs out).
   */
  renewMs?: number;
  /** Deployments this instance drives at once (default 100). */
  maxDrivers?: number;
  providerRetry?: CallRetryPolicy;
}

export interface EngineStatus {
  instanceId: string;
  running: boolean;
  /** The deployments this instance drives now. */
  driving: string[];
  lastPollAt: string | null;
  lastError: string | null;
}

/**
 * Takes up deployments that need driving, one lease each, and runs a driver per deployment. Any
 * number of instances may run engines on one database: a deployment is driven by the holder of its
 * lease only, and a lease that stops being renewed (a crashed instance) is taken over once it
 * expires. Stopping releases the leases, so another instance takes over at its next poll.
 */
export class DeploymentEngine {
  readonly instanceId: string;
  private readonly options: DeploymentEngineOptions;
  private readonly leaseMs: number;
  private readonly drivers = new Map<string, { driver: DeploymentDriver; done: Promise<void> }>();
  private pollTimer: ReturnType<typeof setTimeout> | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | null = null;
  private inFlight = new Set<Promise<unknown>>();
  private running = false;
  private lastPollAt: string | null = null;
  private lastError: string | null = null;

  constructor(options: DeploymentEngineOptions) {
    this.options = options;
    this.instanceId = options.instanceId ?? randomUUID();
    this.leaseMs = options.leaseMs ?? 10_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedulePoll(0);
    this.scheduleRenewal();
  }

  /**
   * Stops taking up deployments, halts the drivers (a provider call under way finishes first) and,
   * unless `releaseLeases` is false, hands their leases over. `releaseLeases: false` leaves what a
   * crashed instance would: leases that others take only once they expire.
   */
  async stop({ releaseLeases: release = true }: { releaseLeases?: boolean } = {}): Promise<void> {
    this.running = false;
    for (const timer of [this.pollTimer, this.renewTimer]) if (timer) clearTimeout(timer);
    this.pollTimer = null;
    this.renewTimer = null;
    for (const { driver } of this.drivers.values()) driver.halt();
    await Promise.allSettled([...this.inFlight, ...[...this.drivers.values()].map((d) => d.done)]);
    if (release) {
      await releaseLeases(this.options.database.db, this.instanceId).catch((error) =>
        this.options.logger.warn({ err: error }, 'could not release deployment leases'),
      );
    }
  }

  status(): EngineStatus {
    return {
      instanceId: this.instanceId,
      running: this.running,
      driving: [...this.drivers.keys()],
      lastPollAt: this.lastPollAt,
      lastError: this.lastError,
    };
  }

  /** Takes up the deployments that need driving and whose leases are free; returns how many. */
  async poll(): Promise<number> {
    const { database, maxDrivers = 100 } = this.options;
    const takenAt = performance.now();
    const claimed = await claimDeployments(database.db, {
      owner: this.instanceId,
      leaseMs: this.leaseMs,
      limit: maxDrivers - this.drivers.size,
      exclude: [...this.drivers.keys()],
    });
    for (const row of claimed) {
      // Stopped while claiming: the lease is released (or expires) and someone else drives it.
      if (!this.running) break;
      this.drive(row.id, takenAt);
    }
    return claimed.length;
  }

  private drive(id: string, takenAt: number): void {
    const { database, providerFor, kek, querierFor, runAnalysis, audit, logger, providerRetry, tracer } =
      this.options;
    const driver = new DeploymentDriver(
      id,
      {
        database,
        owner: this.instanceId,
        leaseMs: this.leaseMs,
        providerFor,
        kek,
        querierFor,
        runAnalysis,
        audit,
        logger,
        retry: providerRetry ?? DEFAULT_CALL_RETRY,
        tracer: tracer ?? null,
      },
      takenAt,
    );
    const done = driver
      .run()
      .catch((error) =>
        logger.error({ err: error, deploymentId: id }, 'a deployment driver stopped on an error'),
      )
      .finally(() => this.drivers.delete(id));
    this.drivers.set(id, { driver, done });
  }

  /** Renews the leases of every driven deployment and tells each driver what the renewal saw. */
  async renew(): Promise<void> {
    const entries = [...this.drivers.values()];
    if (entries.length === 0) return;
    const writes = new Map(entries.map(({ driver }) => [driver.deploymentId, driver.writeCount]));
    const sentAt = performance.now();
    const states = await renewLeases(this.options.database.db, {
      owner: this.instanceId,
      ids: [...writes.keys()],
      leaseMs: this.leaseMs,
    });
    const byId = new Map(states.map((state) => [state.id, state]));
    for (const { driver } of entries) {
      driver.observe(
        byId.get(driver.deploymentId),
        writes.get(driver.deploymentId) ?? -1,
        sentAt + this.leaseMs,
      );
    }
  }

  private schedulePoll(delayMs: number): void {
    if (!this.running) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      this.track(
        this.poll().then(
          () => {
            this.lastError = null;
          },
          (error) => {
            this.lastError = error instanceof Error ? error.message : String(error);
            this.options.logger.warn({ err: error }, 'looking for deployments to drive failed');
          },
        ),
      ).finally(() => {
        this.lastPollAt = new Date().toISOString();
        this.schedulePoll(this.options.pollMs ?? 1_000);
      });
    }, delayMs);
    this.pollTimer.unref?.();
  }

  private scheduleRenewal(): void {
    if (!this.running) return;
    this.renewTimer = setTimeout(
      () => {
        this.renewTimer = null;
        this.track(
          this.renew().catch((error) =>
            this.options.logger.warn({ err: error }, 'renewing deployment leases failed'),
          ),
        ).finally(() => this.scheduleRenewal());
      },
      this.options.renewMs ?? this.leaseMs / 3,
    );
    this.renewTimer.unref?.();
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    return promise.finally(() => this.inFlight.delete(promise));
  }
}
