/**
 * The outbound-request policy: every request the server makes to a destination a user gave
 * (alert webhooks, deployment webhooks, Kubernetes API servers, metrics targets, restore
 * targets) goes through this module, and nothing else in the server opens such a connection.
 *
 * - `outboundRequest(url, purpose, policy, { method, headers, body, timeoutMs, maxBytes, ca })`
 *   → `Promise<{ status, headers, body: Buffer }>`: http(s) only, no credentials in the URL; the
 *   host resolved once, every answer checked, the connection pinned to the checked address (Host
 *   header, SNI and certificate check use the name); no redirect followed; the whole exchange
 *   bounded by `timeoutMs` and the body by `maxBytes` (1 MiB by default).
 * - `parseOutboundUrl(url, purpose, policy)` → `URL`: the checks that need no DNS, for refusing a
 *   URL when it is given (creation), before it is ever used.
 * - `checkDestination(host: string, purpose: OutboundPurpose, policy: OutboundPolicy,
 *   options?: { timeoutMs?: number })` → `Promise<string>`: for destinations that are not HTTP
 *   (purpose `restore_target`: a PostgreSQL host). Resolves `host`, checks every answer and
 *   returns the address to connect to; connect to that address (keeping `host` for TLS
 *   servername), never resolve `host` again.
 *
 * Refused: loopback, private (RFC 1918), shared (100.64/10), link-local, unique-local, multicast,
 * unspecified, documentation and other reserved ranges of both families, and every IPv6 form that
 * embeds IPv4 (mapped, compatible, NAT64, 6to4, Teredo), `localhost` and `*.localhost`, odd IPv4
 * spellings included; a name with any such answer is refused whole. An operator opens them per
 * purpose (`createOutboundPolicy`: CIDRs, addresses, host names, or the private-networks switch).
 *
 * Every failure is an `OutboundRefusedError` with a stable `code` and a message of our own: no
 * remote body, remote error text or driver message ever leaves through it.
 */
export { type AddressClass, classifyAddress, isPublicAddress, parseAddress } from './addresses';
export { checkDestination, MAX_OUTBOUND_URL_LENGTH, parseOutboundUrl } from './destination';
export { type OutboundErrorCode, OutboundRefusedError } from './errors';
export {
  allowingHost,
  allowListSetting,
  createOutboundPolicy,
  OUTBOUND_PURPOSES,
  type OutboundPolicy,
  type OutboundPolicySettings,
  type OutboundPurpose,
} from './policy';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  type OutboundRequestOptions,
  type OutboundResponse,
  outboundRequest,
} from './request';
