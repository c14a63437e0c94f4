/** Why an outbound request was refused or failed: stable, and the only thing callers may show. */
export type OutboundErrorCode =
  | 'bad_url'
  | 'destination_not_allowed'
  | 'dns_failed'
  | 'timeout'
  | 'too_large'
  | 'connection_failed';

/**
 * Every failure of the outbound module. The message is `<code>: <reason>`, where the reason is
 * our own wording: never a driver's message, a DNS server's answer or a remote body, so it can go
 * into deployment events, notification errors and API errors as it is.
 */
export class OutboundRefusedError extends Error {
  override name = 'OutboundRefusedError';
  constructor(
    readonly code: OutboundErrorCode,
    reason: string,
    /** The remote status, when the failure came after it (a body too large). */
    readonly status: number | null = null,
  ) {
    super(`${code}: ${reason}`);
  }
}
