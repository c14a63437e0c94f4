/**
 * Sessions revoked within the lifetime of an access token, kept in memory so that checking a
 * token against them costs a Map lookup instead of a query. A revoked session's access tokens
 * are refused at once on every instance (each learns revocations through the change feed),
 * rather than living on until they expire. An entry is only needed until every token of its
 * session has expired: after that the token's own `exp` refuses it.
 */
export class RevokedSessions {
  private readonly until = new Map<string, number>();

  constructor(private readonly retainMs: number) {}

  add(sessionId: string, now = Date.now()): void {
    this.until.set(sessionId, now + this.retainMs);
    if (this.until.size % 1024 === 0) this.prune(now);
  }

  has(sessionId: string): boolean {
    return this.until.has(sessionId);
  }

  /** Replaces the whole set, e.g. after the change feed reconnected and may have missed events. */
  replace(sessionIds: Iterable<string>, now = Date.now()): void {
    this.until.clear();
    for (const id of sessionIds) this.until.set(id, now + this.retainMs);
  }

  get size(): number {
    return this.until.size;
  }

  private prune(now: number): void {
    for (const [id, until] of this.until) if (until <= now) this.until.delete(id);
  }
}
