import { describe, expect, it } from 'vitest';
import { Lifecycle } from './lifecycle';

describe('Lifecycle', () => {
  it('waits for every request in flight before reporting idle', async () => {
    const lifecycle = new Lifecycle();
    lifecycle.requestStarted();
    lifecycle.requestStarted();
    let idle: boolean | undefined;
    const waiting = lifecycle.waitForIdle(5_000).then((v) => {
      idle = v;
    });
    lifecycle.requestFinished();
    await Promise.resolve();
    expect(idle).toBeUndefined();
    lifecycle.requestFinished();
    await waiting;
    expect(idle).toBe(true);
  });

  it('gives up waiting after its timeout and says so', async () => {
    const lifecycle = new Lifecycle();
    lifecycle.requestStarted();
    expect(await lifecycle.waitForIdle(10)).toBe(false);
    expect(lifecycle.activeRequests()).toBe(1);
  });

  it('drains and can be told to serve again', () => {
    const lifecycle = new Lifecycle();
    expect(lifecycle.isDraining()).toBe(false);
    lifecycle.beginDrain();
    expect(lifecycle.isDraining()).toBe(true);
    lifecycle.endDrain();
    expect(lifecycle.isDraining()).toBe(false);
  });
});
