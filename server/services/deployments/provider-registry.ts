import { z } from 'zod';
import { type OutboundPolicy, parseOutboundUrl } from '../../base/outbound/index';
import type { DeploymentProvider } from './contracts';
import { KubernetesProvider } from './provider-kubernetes';
import { WebhookProvider } from './provider-webhook';

/**
 * Which provider a deployment uses, and with what configuration: the kind names a factory, the
 * configuration is validated for that kind before the factory sees it. Secrets (`secret`,
 * `token`) are given inline or as references to the environment's secrets, resolved before this
 * point (secret-references.ts).
 */

const httpUrl = z
  .string()
  .max(2_000)
  .refine((text) => URL.canParse(text) && /^https?:$/.test(new URL(text).protocol), 'an http(s) URL');

/**
 * The /metrics URLs of the new version's instances, when analysis measures the targets
 * themselves rather than asking Prometheus (see target-metrics-querier.ts).
 */
const metricsTargets = z.array(httpUrl).min(1).max(20).optional();

export const webhookProviderConfigSchema = z.strictObject({
  url: httpUrl,
  metricsTargets,
  /** At least 128 bits' worth: it signs calls that move production traffic. */
  secret: z.string().min(16).max(512),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  retries: z.number().int().min(0).max(10).default(4),
});

const intOrPercent = z.union([z.number().int().min(0), z.string().regex(/^\d{1,3}%$/)]);

export const kubernetesProviderConfigSchema = z.strictObject({
  apiUrl: httpUrl,
  metricsTargets,
  token: z.string().min(1).max(16_384),
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    .max(63),
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/)
    .max(240),
  mode: z.enum(['deployment', 'argoRollout']),
  caCert: z.string().includes('-----BEGIN CERTIFICATE-----').max(65_536).optional(),
  container: z.string().min(1).max(63).optional(),
  image: z.string().min(1).max(1_000).optional(),
  maxSurge: intOrPercent.optional(),
  maxUnavailable: intOrPercent.optional(),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  rolloutTimeoutMs: z.number().int().min(1_000).max(3_600_000).optional(),
});

export type WebhookProviderConfig = z.infer<typeof webhookProviderConfigSchema>;
export type KubernetesProviderConfig = z.infer<typeof kubernetesProviderConfigSchema>;

export interface ProviderFactories {
  webhook: (config: WebhookProviderConfig) => DeploymentProvider;
  kubernetes: (config: KubernetesProviderConfig) => DeploymentProvider;
}

export type ProviderRegistry = (kind: string, config: Record<string, unknown>) => DeploymentProvider;

/** A refused provider configuration: what is wrong, never the values (they may hold a secret). */
export class ProviderConfigError extends Error {
  override name = 'ProviderConfigError';
}

const SCHEMAS = { webhook: webhookProviderConfigSchema, kubernetes: kubernetesProviderConfigSchema };

export function createProviderRegistry(factories: ProviderFactories): ProviderRegistry {
  return function providerFor(kind, config) {
    if (kind !== 'webhook' && kind !== 'kubernetes') {
      throw new ProviderConfigError(`unknown provider kind '${kind}': use webhook or kubernetes`);
    }
    const parsed = SCHEMAS[kind].safeParse(config);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || '(config)'}: ${issue.message}`,
      );
      throw new ProviderConfigError(`invalid ${kind} provider configuration: ${issues.join('; ')}`);
    }
    return kind === 'webhook'
      ? factories.webhook(parsed.data as WebhookProviderConfig)
      : factories.kubernetes(parsed.data as KubernetesProviderConfig);
  };
}

/**
 * The real providers, whose URLs the outbound policy checks when the configuration is given (a
 * deployment is refused at creation for an internal address) and again at every call. The
 * metricsTargets are checked here too (purpose metrics); the analysis scrapes them.
 */
export function defaultProviderFactories(options: { outbound: OutboundPolicy }): ProviderFactories {
  const { outbound } = options;
  const checkTargets = (urls: string[] | undefined) => {
    for (const url of urls ?? []) parseOutboundUrl(url, 'metrics', outbound);
  };
  return {
    webhook: ({ metricsTargets, ...config }) => {
      checkTargets(metricsTargets);
      return new WebhookProvider({ ...config, outbound });
    },
    kubernetes: ({ metricsTargets, ...config }) => {
      checkTargets(metricsTargets);
      return new KubernetesProvider({ ...config, outbound });
    },
  };
}
