import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ComponentState } from '../../shared/system';
import { type Component, Initializer, type Phase } from './initializer';
import { createLogger } from './logger';

const started: Initializer[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((i) => i.stop()));
});

interface Harness {
  initializer: Initializer;
  /** Everything the components did, in order: `start:name`, `stop:name`. */
  events: string[];
  /** Every status change the initializer announced. */
  changes: ComponentState[];
  logs: Record<string, unknown>[];
}

function harness(): Harness {
  const events: string[] = [];
  const changes: ComponentState[] = [];
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const initializer = new Initializer({
    logger: createLogger({ level: 'debug', destination }),
    retry: { baseMs: 1, maxMs: 5 },
    onChange: (state) => changes.push(state),
  });
  started.push(initializer);
  return { initializer, events, changes, logs };
}

interface Options {
  critical?: boolean;
  /** Runs on each start attempt (1-based); throw to fail it. */
  start?: (attempt: number, signal: AbortSignal) => Promise<void>;
  stop?: () => Promise<void>;
}

/** A real component that records what is done to it. */
function component(h: Harness, name: string, phase: Phase, options: Options = {}): Component {
  let attempt = 0;
  return {
    name,
    phase,
    critical: options.critical ?? true,
    async start(signal) {
      attempt++;
      h.events.push(`start:${name}`);
      await options.start?.(attempt, signal);
    },
    async stop() {
      h.events.push(`stop:${name}`);
      await options.stop?.();
    },
  };
}

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const stateOf = (h: Harness, name: string) => h.initializer.states().find((s) => s.name === name);

/** Lets timers and I/O callbacks run for a while, so that anything that was going to start has. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 30));

describe('Initializer', () => {
  it('starts phases in order core → database → cache → auth → monitoring, whatever the registration order', async () => {
    const h = harness();
    for (const [name, phase] of [
      ['metrics', 'monitoring'],
      ['sessions', 'auth'],
      ['cache', 'cache'],
      ['postgres', 'database'],
      ['config', 'core'],
    ] as const) {
      h.initializer.register(component(h, name, phase));
    }
    await h.initializer.start();
    expect(h.events).toEqual([
      'start:config',
      'start:postgres',
      'start:cache',
      'start:sessions',
      'start:metrics',
    ]);
    expect(h.initializer.isReady()).toBe(true);
    expect(h.initializer.overallStatus()).toBe('ready');
  });

  it('starts the components of one phase together', async () => {
    const h = harness();
    const slow = gate();
    h.initializer.register(component(h, 'primary', 'database', { start: () => slow.opened }));
    h.initializer.register(component(h, 'replica', 'database'));
    const done = h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'replica')?.status).toBe('ready'));
    expect(stateOf(h, 'primary')?.status).toBe('initializing');
    slow.open();
    await done;
    expect(stateOf(h, 'primary')?.status).toBe('ready');
  });

  it('holds a later phase until every critical component of the earlier ones is ready', async () => {
    const h = harness();
    const database = gate();
    h.initializer.register(component(h, 'database', 'database', { start: () => database.opened }));
    h.initializer.register(component(h, 'cache', 'cache', { critical: false }));
    h.initializer.register(component(h, 'auth', 'auth'));
    const done = h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'database')?.status).toBe('initializing'));
    await settle();
    expect(stateOf(h, 'cache')?.status).toBe('pending');
    expect(stateOf(h, 'auth')?.status).toBe('pending');
    expect(h.events).toEqual(['start:database']);

    database.open();
    await done;
    expect(h.events).toEqual(['start:database', 'start:cache', 'start:auth']);
  });

  it('does not hold a later phase for a non-critical component still starting', async () => {
    const h = harness();
    const never = gate();
    h.initializer.register(component(h, 'warmup', 'core', { critical: false, start: () => never.opened }));
    h.initializer.register(component(h, 'database', 'database'));
    void h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'database')?.status).toBe('ready'));
    expect(stateOf(h, 'warmup')?.status).toBe('initializing');
    expect(h.initializer.isReady()).toBe(true);
    expect(h.initializer.overallStatus()).toBe('degraded');
    never.open();
  });

  it('degrades rather than blocks when a non-critical component fails, and keeps retrying it', async () => {
    const h = harness();
    h.initializer.register(
      component(h, 'cache', 'cache', {
        critical: false,
        start: async () => {
          throw new Error('cache unreachable');
        },
      }),
    );
    h.initializer.register(component(h, 'metrics', 'monitoring'));
    void h.initializer.start();
    await vi.waitFor(() => {
      expect(stateOf(h, 'metrics')?.status).toBe('ready');
      expect(stateOf(h, 'cache')?.attempts).toBeGreaterThanOrEqual(3);
    });
    const cache = stateOf(h, 'cache');
    expect(cache?.status === 'degraded' || cache?.status === 'initializing').toBe(true);
    expect(cache?.lastError).toBe('cache unreachable');
    expect(h.changes.some((c) => c.name === 'cache' && c.status === 'degraded')).toBe(true);
    expect(h.changes.some((c) => c.name === 'cache' && c.status === 'failed')).toBe(false);
    expect(h.initializer.isReady()).toBe(true);
    expect(h.initializer.overallStatus()).toBe('degraded');
  });

  it('retries a failing critical component with backoff and makes it ready once it succeeds', async () => {
    const h = harness();
    h.initializer.register(
      component(h, 'database', 'database', {
        start: async (attempt) => {
          if (attempt <= 3) throw new Error(`connection refused (attempt ${attempt})`);
        },
      }),
    );
    h.initializer.register(component(h, 'cache', 'cache'));
    await h.initializer.start();

    const database = stateOf(h, 'database');
    expect(database).toMatchObject({ status: 'ready', attempts: 4, lastError: null, critical: true });
    expect(database?.durationMs).toEqual(expect.any(Number));
    expect(database?.durationMs).toBeGreaterThanOrEqual(0);
    expect(new Date(String(database?.startedAt)).toISOString()).toBe(database?.startedAt);
    expect(h.changes.filter((c) => c.name === 'database').map((c) => c.status)).toEqual([
      'initializing',
      'failed',
      'initializing',
      'failed',
      'initializing',
      'failed',
      'initializing',
      'ready',
    ]);
    // The later phase started only after the critical component was up.
    expect(h.events).toEqual([
      'start:database',
      'start:database',
      'start:database',
      'start:database',
      'start:cache',
    ]);
    const warnings = h.logs.filter((l) => l.msg === 'component failed to start');
    expect(warnings.map((w) => w.attempt)).toEqual([1, 2, 3]);
    for (const w of warnings) expect(w.retryInMs).toEqual(expect.any(Number));
  });

  it('records failed, attempts and the last error while a critical component is down', async () => {
    const h = harness();
    h.initializer.register(
      component(h, 'database', 'database', {
        start: async () => {
          throw new Error('ECONNREFUSED');
        },
      }),
    );
    void h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'database')?.attempts).toBeGreaterThanOrEqual(2));
    await vi.waitFor(() => expect(stateOf(h, 'database')?.status).toBe('failed'));
    expect(stateOf(h, 'database')?.lastError).toBe('ECONNREFUSED');
    expect(h.initializer.isReady()).toBe(false);
    expect(h.initializer.overallStatus()).toBe('failed');
  });

  it('reports initializing, not failed, while a critical component is still on its first try', async () => {
    const h = harness();
    const slow = gate();
    h.initializer.register(component(h, 'database', 'database', { start: () => slow.opened }));
    expect(h.initializer.states()[0]).toMatchObject({ status: 'pending', attempts: 0, startedAt: null });
    void h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'database')?.status).toBe('initializing'));
    expect(h.initializer.overallStatus()).toBe('initializing');
    slow.open();
  });

  it('stop() stops retrying and lets start() settle', async () => {
    const h = harness();
    let signalSeen: AbortSignal | undefined;
    h.initializer.register(
      component(h, 'database', 'database', {
        start: async (_attempt, signal) => {
          signalSeen = signal;
          throw new Error('down');
        },
      }),
    );
    h.initializer.register(component(h, 'cache', 'cache'));
    const done = h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'database')?.attempts).toBeGreaterThanOrEqual(2));
    await h.initializer.stop();
    await done;
    const attempts = stateOf(h, 'database')?.attempts;
    await settle();
    expect(stateOf(h, 'database')?.attempts).toBe(attempts);
    expect(signalSeen?.aborted).toBe(true);
    // Its phase never finished, so the next one never began.
    expect(h.events.filter((e) => e === 'start:cache')).toEqual([]);
  });

  it('stop() aborts a start still under way', async () => {
    const h = harness();
    h.initializer.register(
      component(h, 'database', 'database', {
        start: (_attempt, signal) =>
          new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
          }),
      }),
    );
    const done = h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'database')?.status).toBe('initializing'));
    await h.initializer.stop();
    await done;
    expect(stateOf(h, 'database')?.status).toBe('failed');
    expect(stateOf(h, 'database')?.attempts).toBe(1);
  });

  it('stop() stops components in reverse phase order, whatever the registration order', async () => {
    const h = harness();
    for (const [name, phase] of [
      ['metrics', 'monitoring'],
      ['config', 'core'],
      ['primary', 'database'],
      ['cache', 'cache'],
      ['replica', 'database'],
      ['sessions', 'auth'],
    ] as const) {
      h.initializer.register(component(h, name, phase));
    }
    await h.initializer.start();
    h.events.length = 0;
    await h.initializer.stop();
    expect(h.events).toEqual([
      'stop:metrics',
      'stop:sessions',
      'stop:cache',
      'stop:replica',
      'stop:primary',
      'stop:config',
    ]);
  });

  it('stop() goes on stopping the others when one fails to stop, and logs it', async () => {
    const h = harness();
    h.initializer.register(component(h, 'database', 'database'));
    h.initializer.register(
      component(h, 'cache', 'cache', {
        stop: async () => {
          throw new Error('cache would not stop');
        },
      }),
    );
    h.initializer.register(component(h, 'metrics', 'monitoring'));
    await h.initializer.start();
    h.events.length = 0;
    await h.initializer.stop();
    expect(h.events).toEqual(['stop:metrics', 'stop:cache', 'stop:database']);
    expect(h.logs.some((l) => l.msg === 'component failed to stop' && l.component === 'cache')).toBe(true);
  });

  it('refuses a component registered twice or after start', async () => {
    const h = harness();
    h.initializer.register(component(h, 'database', 'database'));
    expect(() => h.initializer.register(component(h, 'database', 'database'))).toThrow(/twice/);
    await h.initializer.start();
    expect(() => h.initializer.register(component(h, 'cache', 'cache'))).toThrow(/after start/);
  });

  it('report() marks a started component degraded and ready again, and ignores the rest', async () => {
    const h = harness();
    const blocked = gate();
    h.initializer.register(component(h, 'database', 'database'));
    h.initializer.register(component(h, 'search', 'cache', { start: () => blocked.opened }));
    void h.initializer.start();
    await vi.waitFor(() => expect(stateOf(h, 'search')?.status).toBe('initializing'));

    h.initializer.report('database', 'degraded', 'connection lost');
    expect(stateOf(h, 'database')).toMatchObject({ status: 'degraded', lastError: 'connection lost' });
    expect(h.initializer.isReady()).toBe(false);
    h.initializer.report('database', 'ready');
    expect(stateOf(h, 'database')?.status).toBe('ready');

    // Still starting: start-up decides its status, not report().
    h.initializer.report('search', 'ready');
    expect(stateOf(h, 'search')?.status).toBe('initializing');
    h.initializer.report('nonexistent', 'degraded');
    expect(h.initializer.states().map((s) => s.name)).toEqual(['database', 'search']);
    blocked.open();
  });

  it('hands out copies of its states, so callers cannot change them', async () => {
    const h = harness();
    h.initializer.register(component(h, 'database', 'database'));
    await h.initializer.start();
    const [state] = h.initializer.states();
    if (state) state.status = 'failed';
    expect(stateOf(h, 'database')?.status).toBe('ready');
    const change = h.changes.at(-1);
    if (change) change.status = 'failed';
    expect(stateOf(h, 'database')?.status).toBe('ready');
  });
});
