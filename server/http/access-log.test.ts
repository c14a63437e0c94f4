import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBuildInfo } from '../base/build-info';
import { createLogger } from '../base/logger';
import { createMetrics } from '../base/metrics/metrics';
import { AccessLog } from './access-log';

/**
 * A log destination that keeps every line. With `hold`, it takes one write and then sits on it
 * (asking the writer to wait for 'drain') until `release()`: a stdout whose reader stalls.
 */
function destination({ hold = false } = {}) {
  const lines: Record<string, unknown>[] = [];
  let held: (() => void) | undefined;
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      if (hold) held = done;
      else done();
    },
  });
  return {
    lines,
    stream,
    release() {
      hold = false;
      held?.();
    },
  };
}

/** An access log whose timer never fires during a test: every write out is an explicit flush. */
function accessLog(stream: Writable, options: { capacity?: number; dropped?: { inc(): void } } = {}) {
  const logger = createLogger({ level: 'info', destination: stream });
  return { logger, log: new AccessLog(logger, { flushIntervalMs: 3_600_000, ...options }) };
}

function record(log: AccessLog, requestId: string, status = 200) {
  log.record(requestId, 'GET', '/api/trpc/*', '/api/trpc/system.info', status, 0.00123, performance.now());
}

describe('buffered access log', () => {
  it('writes nothing while requests are served, then every line in order on flush', () => {
    const out = destination();
    const { log } = accessLog(out.stream);
    for (const id of ['a', 'b', 'c']) record(log, id);
    expect(out.lines).toEqual([]);
    expect(log.pending).toBe(3);
    log.flush();
    expect(out.lines.map((l) => l.requestId)).toEqual(['a', 'b', 'c']);
    expect(out.lines[0]).toMatchObject({
      level: 'info',
      service: 'beauty-crafter-platform',
      pid: process.pid,
      method: 'GET',
      route: '/api/trpc/*',
      path: '/api/trpc/system.info',
      status: 200,
      durationMs: 1.23,
      msg: 'request',
    });
    expect(Math.abs(Date.parse(String(out.lines[0]?.time)) - Date.now())).toBeLessThan(60_000);
    expect(log.pending).toBe(0);
  });

  it('flushes a full buffer at once rather than dropping, when the destination takes writes', () => {
    const out = destination();
    const { log } = accessLog(out.stream, { capacity: 4 });
    for (let i = 0; i < 10; i++) record(log, `r${i}`);
    log.flush();
    expect(out.lines.map((l) => l.requestId)).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
    expect(log.droppedLines).toBe(0);
  });

  it('counts the lines it drops while the destination pushes back, and writes the rest after the drain', async () => {
    const metrics = createMetrics({ build: readBuildInfo(), defaultMetrics: false });
    const out = destination({ hold: true });
    const { log } = accessLog(out.stream, { capacity: 3, dropped: metrics.logs.accessLinesDropped });
    record(log, 'first');
    log.flush();
    // The destination holds that write: three lines fit in the buffer, the next two do not.
    for (const id of ['k1', 'k2', 'k3', 'lost1', 'lost2']) record(log, id);
    expect(log.droppedLines).toBe(2);
    expect((await metrics.logs.accessLinesDropped.get()).values[0]?.value).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^log_access_lines_dropped_total 2$/m);

    const closed = log.close();
    out.release();
    await closed;
    expect(out.lines.map((l) => l.requestId)).toEqual(['first', 'k1', 'k2', 'k3']);
  });

  it('records nothing while the logger is above info', () => {
    const out = destination();
    const { logger, log } = accessLog(out.stream);
    logger.level = 'warn';
    record(log, 'quiet');
    expect(log.pending).toBe(0);
    logger.level = 'info';
    record(log, 'heard');
    log.flush();
    expect(out.lines.map((l) => l.requestId)).toEqual(['heard']);
  });

  it('writes hostile paths and routes as valid JSON', () => {
    const out = destination();
    const { log } = accessLog(out.stream);
    log.record('x', 'GET', 'unmatched', '/api/"quoted"\\back\nline', 404, 0.001, performance.now());
    log.flush();
    expect(out.lines[0]).toMatchObject({ path: '/api/"quoted"\\back\nline', status: 404 });
  });
});
