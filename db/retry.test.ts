import { describe, expect, it } from 'vitest';
import { backoffDelay, isConnectionError, isRetryableError, isTransientError, withRetry } from './retry';

function pgError(code: string, message = 'boom'): Error {
  return Object.assign(new Error(message), { code });
}

describe('isTransientError', () => {
  it('treats connection, shutdown and serialization failures as transient', () => {
    for (const code of ['08006', '08001', '57P01', '57P02', '57P03', '40001', '40P01', 'ECONNREFUSED']) {
      expect(isTransientError(pgError(code)), code).toBe(true);
    }
    expect(isTransientError(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('never retries constraint, syntax or permission errors', () => {
    for (const code of ['23505', '23503', '42601', '42501', '22P02', '57014']) {
      expect(isTransientError(pgError(code)), code).toBe(false);
    }
    expect(isTransientError('not an error')).toBe(false);
  });
});

describe('isRetryableError', () => {
  it('answers a full pool with a 503 at once: transient, but neither repeated nor a lost connection', () => {
    // pg-pool's error for a caller that waited connectionTimeoutMillis on a full pool.
    const poolFull = new Error('timeout exceeded when trying to connect');
    expect(isTransientError(poolFull)).toBe(true);
    expect(isRetryableError(poolFull)).toBe(false);
    expect(isConnectionError(poolFull)).toBe(false);
    // A connect that timed out is the server's trouble: repeated, and a connection error.
    const connectTimeout = new Error('Connection terminated due to connection timeout');
    expect(isRetryableError(connectTimeout)).toBe(true);
    expect(isConnectionError(connectTimeout)).toBe(true);
    expect(isRetryableError(pgError('57P01'))).toBe(true);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const top = { baseMs: 100, maxMs: 1000, random: () => 1 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, top))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(5, { baseMs: 100, maxMs: 1000, random: () => 0 })).toBe(0);
    expect(backoffDelay(2, { baseMs: 100, maxMs: 1000, random: () => 0.5 })).toBe(200);
  });
});

describe('withRetry', () => {
  const fast = { baseMs: 1, maxMs: 2 };

  it('retries transient failures until one succeeds', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls++;
        if (calls < 3) throw pgError('57P01');
        return 'ok';
      },
      { ...fast, attempts: 5 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the configured number of attempts with the last error', async () => {
    let calls = 0;
    const failing = withRetry(
      async () => {
        calls++;
        throw pgError('08006', `try ${calls}`);
      },
      { ...fast, attempts: 4 },
    );
    await expect(failing).rejects.toThrow('try 4');
    expect(calls).toBe(4);
  });

  it('does not retry an error that is not transient', async () => {
    let calls = 0;
    const failing = withRetry(
      async () => {
        calls++;
        throw pgError('23505');
      },
      { ...fast, attempts: 5 },
    );
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    expect(calls).toBe(1);
  });
});
