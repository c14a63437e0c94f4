import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', destination }) };
}

describe('logger', () => {
  it('writes one JSON object a line with level label and time', () => {
    const { lines, logger } = capture();
    logger.info({ requestId: 'abc' }, 'hello');
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'hello', requestId: 'abc' });
    expect(typeof lines[0]?.time).toBe('string');
  });

  it('redacts secrets in headers, configuration and nested objects', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        headers: { authorization: 'Bearer s3cr3t-value', 'x-api-key': 'bc_live_abc' },
        config: { ADMIN_TOKEN: 'admin-secret-token', PORT: 3000 },
        user: { password: 'hunter2', name: 'ann' },
      },
      'request',
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ['s3cr3t-value', 'bc_live_abc', 'admin-secret-token', 'hunter2']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('"name":"ann"');
    expect(text).toContain('"PORT":3000');
  });
});
