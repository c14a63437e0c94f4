import { describe, expect, it } from 'vitest';
import { PlatformError } from '../../base/errors';
import { edgeCallGate } from './call-gate';
import { originOnly } from './origin-only';

interface Service {
  list(): string[];
  count: number;
}

function refusalOf(work: () => unknown): PlatformError {
  try {
    work();
  } catch (error) {
    if (error instanceof PlatformError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('originOnly: services the edge does not run', () => {
  it('answers 405 naming the origin for any member reached', () => {
    const service = originOnly<Service>('the test service');
    for (const refusal of [refusalOf(() => service.list()), refusalOf(() => service.count)]) {
      expect(refusal.code).toBe('METHOD_NOT_SUPPORTED');
      expect(refusal.status).toBe(405);
      expect(refusal.message).toBe('the test service: served by the origin, not at the edge');
    }
  });

  it('gives the members the edge provides, and is not mistaken for a promise', async () => {
    const service = originOnly<Service>('the test service', { count: 3 });
    expect(service.count).toBe(3);
    await expect(Promise.resolve(service)).resolves.toBe(service);
  });
});

describe('edgeCallGate: the calls the edge runs', () => {
  const gate = edgeCallGate();

  it('lets through the reads the edge serves', () => {
    expect(gate.refuses('query', 'auth.me')).toBe(false);
    expect(gate.refuses('query', 'system.annotations.list')).toBe(false);
  });

  it('refuses every mutation and every other procedure, naming it', () => {
    expect(refusalOf(() => gate.refuses('mutation', 'system.annotations.create')).message).toBe(
      'system.annotations.create (a mutation): served by the origin, not at the edge',
    );
    expect(refusalOf(() => gate.refuses('query', 'devops.backups.list')).message).toBe(
      'devops.backups.list: served by the origin, not at the edge',
    );
    expect(refusalOf(() => gate.current()).code).toBe('METHOD_NOT_SUPPORTED');
  });
});
