/**
 * The instance's place in its life: serving, draining (readiness says 503 so load balancers
 * stop sending, but requests are still served), or in maintenance. Also counts requests in
 * flight so shutdown can wait for them.
 */
export class Lifecycle {
  private draining = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  isDraining(): boolean {
    return this.draining;
  }

  /** Readiness answers 503 from now on; requests keep being served. */
  beginDrain(): void {
    this.draining = true;
  }

  /** Back to serving (an operator cancelled a drain). */
  endDrain(): void {
    this.draining = false;
  }

  requestStarted(): void {
    this.inFlight++;
  }

  requestFinished(): void {
    this.inFlight--;
    if (this.inFlight === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  activeRequests(): number {
    return this.inFlight;
  }

  /** Resolves true once no request is in flight, or false when `timeoutMs` passes first. */
  waitForIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
