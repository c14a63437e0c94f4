import { backoffDelay, sleep } from '../../db/retry';
import type { ComponentState, ComponentStatus, HealthCheckResult } from '../../shared/system';
import type { Logger } from './logger';

/** Start-up phases, in order. A phase begins once every critical component of the earlier ones is ready. */
export const PHASES = ['core', 'database', 'cache', 'auth', 'monitoring'] as const;
export type Phase = (typeof PHASES)[number];

export interface SelfTestOutcome {
  name: string;
  /** Throws to fail. */
  run(): Promise<void>;
}

/** A part of the platform the initializer starts, watches, tests and stops. */
export interface Component {
  name: string;
  phase: Phase;
  /** Critical components must be ready for the instance to be ready; others only degrade it. */
  critical: boolean;
  /** Brings the component up; throwing marks it failed (critical) or degraded, and it is retried. */
  start(signal: AbortSignal): Promise<void>;
  stop?(): Promise<void>;
  /** Measurements for GET /api/health, keyed `component:measurement`; each bounded by the caller's timeout. */
  health?(): Promise<Record<string, HealthCheckResult[]>>;
  /** Checks for `system.selfTest` that exercise the component for real. */
  selfTests?: SelfTestOutcome[];
}

export interface InitializerOptions {
  logger: Logger;
  /** Backoff between start attempts of a failed component. */
  retry: { baseMs: number; maxMs: number };
  /** Told whenever a component changes status. */
  onChange?: (state: ComponentState) => void;
}

interface Entry {
  component: Component;
  state: ComponentState;
  started: Promise<void>;
}

/**
 * Phased start of the platform's components. Components of one phase start together; a
 * component that fails is retried with capped backoff until it comes up or the initializer
 * stops, so an instance started while PostgreSQL is down becomes ready by itself once it appears.
 */
export class Initializer {
  private readonly entries = new Map<string, Entry>();
  private readonly abort = new AbortController();
  private readonly options: InitializerOptions;
  private running: Promise<void> | null = null;

  constructor(options: InitializerOptions) {
    this.options = options;
  }

  register(component: Component): void {
    if (this.running) throw new Error(`component ${component.name} registered after start`);
    if (this.entries.has(component.name)) throw new Error(`component ${component.name} registered twice`);
    this.entries.set(component.name, {
      component,
      started: Promise.resolve(),
      state: {
        name: component.name,
        phase: component.phase,
        critical: component.critical,
        status: 'pending',
        startedAt: null,
        durationMs: null,
        attempts: 0,
        lastError: null,
      },
    });
  }

  /** Starts every phase in order in the background; resolves once all components are up. */
  start(): Promise<void> {
    this.running ??= this.run();
    return this.running;
  }

  private async run(): Promise<void> {
    let previousCritical: Promise<void>[] = [];
    for (const phase of PHASES) {
      await Promise.all(previousCritical);
      if (this.abort.signal.aborted) return;
      const inPhase = [...this.entries.values()].filter((e) => e.component.phase === phase);
      for (const entry of inPhase) entry.started = this.startWithRetry(entry);
      previousCritical = [
        ...previousCritical,
        ...inPhase.filter((e) => e.component.critical).map((e) => e.started),
      ];
    }
    await Promise.all([...this.entries.values()].map((e) => e.started));
  }

  private async startWithRetry(entry: Entry): Promise<void> {
    const { component, state } = entry;
    const { signal } = this.abort;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const started = performance.now();
      state.attempts = attempt + 1;
      state.startedAt ??= new Date().toISOString();
      this.setStatus(entry, 'initializing');
      try {
        await component.start(signal);
        state.durationMs = Math.round(performance.now() - started);
        state.lastError = null;
        this.setStatus(entry, 'ready');
        this.options.logger.info(
          { component: component.name, durationMs: state.durationMs },
          'component ready',
        );
        return;
      } catch (error) {
        state.durationMs = Math.round(performance.now() - started);
        state.lastError = error instanceof Error ? error.message : String(error);
        this.setStatus(entry, component.critical ? 'failed' : 'degraded');
        const delay = backoffDelay(attempt, this.options.retry);
        this.options.logger.warn(
          { component: component.name, attempt: attempt + 1, retryInMs: delay, err: error },
          'component failed to start',
        );
        await sleep(delay, signal);
      }
    }
  }

  /** Marks a ready component degraded (or ready again) after start, e.g. when its health check fails. */
  report(name: string, status: Extract<ComponentStatus, 'ready' | 'degraded'>, error?: string): void {
    const entry = this.entries.get(name);
    if (!entry || entry.state.status === status) return;
    if (entry.state.status !== 'ready' && entry.state.status !== 'degraded') return;
    entry.state.lastError = error ?? entry.state.lastError;
    this.setStatus(entry, status);
  }

  private setStatus(entry: Entry, status: ComponentStatus): void {
    entry.state.status = status;
    this.options.onChange?.({ ...entry.state });
  }

  /** Ready when every critical component is ready. */
  isReady(): boolean {
    for (const { component, state } of this.entries.values()) {
      if (component.critical && state.status !== 'ready') return false;
    }
    return true;
  }

  /** 'failed' while a critical component is not up, 'degraded' while a non-critical one is not, else 'ready'. */
  overallStatus(): 'ready' | 'degraded' | 'failed' | 'initializing' {
    const states = this.states();
    if (states.some((s) => s.critical && s.status !== 'ready')) {
      return states.some((s) => s.critical && s.status === 'failed') ? 'failed' : 'initializing';
    }
    return states.some((s) => s.status !== 'ready') ? 'degraded' : 'ready';
  }

  states(): ComponentState[] {
    return [...this.entries.values()].map((e) => ({ ...e.state }));
  }

  components(): Component[] {
    return [...this.entries.values()].map((e) => e.component);
  }

  /** Stops retrying and stops components in reverse phase order. */
  async stop(): Promise<void> {
    this.abort.abort();
    // By phase, not by registration: a component registered before one of an earlier phase
    // must still stop first. Within a phase, the reverse of registration.
    const phaseOf = (e: Entry) => PHASES.indexOf(e.component.phase);
    const reversed = [...this.entries.values()].reverse().sort((a, b) => phaseOf(b) - phaseOf(a));
    for (const { component } of reversed) {
      try {
        await component.stop?.();
      } catch (error) {
        this.options.logger.warn({ component: component.name, err: error }, 'component failed to stop');
      }
    }
  }
}
