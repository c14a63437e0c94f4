import type { Tracing } from '../tracing/context';
import {
  type AddressClass,
  classifyAddress,
  inNetwork,
  type Network,
  type ParsedAddress,
  parseNetwork,
} from './addresses';

/** What an outbound request is for: each purpose has its own allow-list. */
export const OUTBOUND_PURPOSES = [
  'alert_webhook',
  'deployment_webhook',
  'kubernetes',
  'metrics',
  'restore_target',
] as const;
export type OutboundPurpose = (typeof OUTBOUND_PURPOSES)[number];

/** The configuration variable that allow-lists destinations for a purpose (named in refusals). */
export function allowListSetting(purpose: OutboundPurpose): string {
  return `OUTBOUND_ALLOW_${purpose.toUpperCase()}`;
}

/** What one purpose may reach besides the public internet. */
export interface PurposeAllowance {
  /** Every non-public address except link-local (ALERT_WEBHOOK_ALLOW_PRIVATE, DEPLOY_ALLOW_PRIVATE_NETWORKS). */
  privateNetworks: boolean;
  /** Networks allowed whatever their class. */
  networks: readonly Network[];
  /** Host names (lower case, exact) allowed whatever they resolve to: the operator vouches for them. */
  hosts: readonly string[];
}

export interface OutboundPolicy {
  allow: Readonly<Record<OutboundPurpose, PurposeAllowance>>;
  /** Each request in a client span, its trace context sent along (docs/operations.md, "Tracing"). */
  tracing?: Tracing | null;
  /** `host:port` of DNS servers to resolve with instead of the system's resolver (OUTBOUND_DNS_SERVERS). */
  dnsServers: readonly string[];
}

export interface OutboundPolicySettings {
  /** Per purpose: CIDRs (`10.1.0.0/16`), single addresses or host names. */
  allow?: Partial<Record<OutboundPurpose, readonly string[]>>;
  /** Per purpose: whether private, loopback and other internal addresses are allowed. */
  privateNetworks?: Partial<Record<OutboundPurpose, boolean>>;
  dnsServers?: readonly string[];
  /** Traces, when the platform traces. */
  tracing?: Tracing | null;
}

/** Builds a policy; throws on an allow-list entry that is neither a network nor a host name. */
export function createOutboundPolicy(settings: OutboundPolicySettings = {}): OutboundPolicy {
  const allow = {} as Record<OutboundPurpose, PurposeAllowance>;
  for (const purpose of OUTBOUND_PURPOSES) {
    const networks: Network[] = [];
    const hosts: string[] = [];
    for (const raw of settings.allow?.[purpose] ?? []) {
      const entry = raw.trim().toLowerCase();
      if (entry === '') continue;
      const network = parseNetwork(entry);
      if (network) networks.push(network);
      else if (isHostName(entry)) hosts.push(entry.replace(/\.$/, ''));
      else
        throw new Error(
          `${allowListSetting(purpose)}: '${raw}' is neither a CIDR, an address nor a host name`,
        );
    }
    allow[purpose] = { privateNetworks: settings.privateNetworks?.[purpose] === true, networks, hosts };
  }
  return { allow, dnsServers: [...(settings.dnsServers ?? [])], tracing: settings.tracing ?? null };
}

/**
 * The same policy with one more host allowed for a purpose: for a destination the operator set
 * in the server's own configuration (DEPLOY_PROMETHEUS_URL), never for one a user gave.
 */
export function allowingHost(policy: OutboundPolicy, purpose: OutboundPurpose, host: string): OutboundPolicy {
  const current = policy.allow[purpose];
  return {
    ...policy,
    allow: { ...policy.allow, [purpose]: { ...current, hosts: [...current.hosts, host.toLowerCase()] } },
  };
}

export function isHostName(text: string): boolean {
  return /^(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i.test(
    text,
  );
}

export function hostAllowed(host: string, purpose: OutboundPurpose, policy: OutboundPolicy): boolean {
  return policy.allow[purpose].hosts.includes(host.toLowerCase().replace(/\.$/, ''));
}

// Cloud metadata services answer on link-local addresses (169.254.169.254) and, on AWS, on
// fd00:ec2::254: a "private networks" switch meant for a receiver next door does not open them;
// an explicit CIDR can.
const NOT_OPENED_BY_PRIVATE_SWITCH: ReadonlySet<AddressClass> = new Set(['link_local']);
const METADATA_V6 = parseNetwork('fd00:ec2::254') as Network;

/** Whether `address` may be reached for `purpose`. */
export function addressAllowed(
  address: ParsedAddress,
  purpose: OutboundPurpose,
  policy: OutboundPolicy,
): boolean {
  const kind = classifyAddress(address);
  if (kind === 'public') return true;
  const allowance = policy.allow[purpose];
  if (allowance.networks.some((network) => inNetwork(address, network))) return true;
  return (
    allowance.privateNetworks && !NOT_OPENED_BY_PRIVATE_SWITCH.has(kind) && !inNetwork(address, METADATA_V6)
  );
}
