import { openSecret, sealSecret } from '../../base/sealed-secret';

/**
 * A deployment's provider configuration at rest. Providers need their credentials back (a webhook's
 * HMAC secret signs every call, a Kubernetes token authenticates every request), so they cannot be
 * hashed: every value under a secret-looking name is sealed with AES-256-GCM under the
 * key-encryption key, bound to the deployment and the value's place in the configuration, and
 * shown to nobody (`[redacted]`) once stored.
 */

const SECRET_NAME = /(secret|token|password|passphrase|api[-_]?key|private[-_]?key|credentials?)$/i;
const SEALED = '$sealed';
/** Beside a sealed value: the environment secret it was taken from (a name, shown back). */
const FROM = '$from';
export const REDACTED = '[redacted]';
/**
 * A configuration value naming a secret of the deployment's environment instead of holding one:
 * `{ "environmentSecret": "WEBHOOK_SECRET" }`, allowed under a secret-looking name only.
 */
export const REFERENCE = 'environmentSecret';

type Json = unknown;

/** Whether a configuration field holds a secret (sealed at rest, never shown). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** The environment secret a value refers to, or null when it is not a reference. */
export function referenceOf(value: Json): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const entries = Object.entries(value);
  return entries.length === 1 && entries[0]![0] === REFERENCE && typeof entries[0]![1] === 'string'
    ? entries[0]![1]
    : null;
}

/**
 * Seals every secret-named value, at any depth; the rest is kept as given. A reference to an
 * environment secret is sealed as that secret's value (`secretOf`), with the secret's name kept.
 */
export function sealConfig(
  config: Record<string, unknown>,
  kek: Uint8Array,
  deploymentId: string,
  secretOf: (name: string) => string = noReferences,
) {
  return transform(config, `deployment:${deploymentId}`, (value, context) => {
    const from = referenceOf(value);
    const plain = from === null ? value : secretOf(from);
    return {
      [SEALED]: sealSecret(JSON.stringify(plain), kek, context),
      ...(from === null ? {} : { [FROM]: from }),
    };
  }) as Record<string, unknown>;
}

function noReferences(name: string): string {
  throw new Error(`no environment secrets to take ${name} from`);
}

/** The configuration as the provider needs it: sealed values opened (throws SealedSecretError if one does not open). */
export function openConfig(
  config: Record<string, unknown>,
  kek: Uint8Array | readonly Uint8Array[],
  deploymentId: string,
) {
  return transform(config, `deployment:${deploymentId}`, (value, context) =>
    isSealed(value) ? JSON.parse(openSecret(value[SEALED], kek, context)) : value,
  ) as Record<string, unknown>;
}

/**
 * The configuration as anyone may see it: secrets `[redacted]`, references to environment
 * secrets as the reference (a name, which the same deployment can be started again with).
 */
export function redactConfig(config: Record<string, unknown>) {
  return transform(config, '', (value) => {
    const from = referenceOf(value) ?? (isSealed(value) ? (value[FROM] ?? null) : null);
    return from === null ? REDACTED : { [REFERENCE]: from };
  }) as Record<string, unknown>;
}

/** Applies `secret` to every value under a secret-looking name; `context` names the value's place. */
function transform(value: Json, context: string, secret: (value: Json, context: string) => Json): Json {
  if (Array.isArray(value))
    return value.map((item, index) => transform(item, `${context}[${index}]`, secret));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, inner]) => {
      const place = `${context}.${name}`;
      return [
        name,
        SECRET_NAME.test(name) && inner !== null ? secret(inner, place) : transform(inner, place, secret),
      ];
    }),
  );
}

function isSealed(value: Json): value is { [SEALED]: string; [FROM]?: string } {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  return (
    typeof record[SEALED] === 'string' &&
    keys.every((key) => key === SEALED || (key === FROM && typeof record[FROM] === 'string'))
  );
}
