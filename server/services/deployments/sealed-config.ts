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
export const REDACTED = '[redacted]';

type Json = unknown;

/** Seals every secret-named value, at any depth; the rest is kept as given. */
export function sealConfig(config: Record<string, unknown>, kek: Uint8Array, deploymentId: string) {
  return transform(config, `deployment:${deploymentId}`, (value, context) => ({
    [SEALED]: sealSecret(JSON.stringify(value), kek, context),
  })) as Record<string, unknown>;
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

/** The configuration as anyone may see it. */
export function redactConfig(config: Record<string, unknown>) {
  return transform(config, '', () => REDACTED) as Record<string, unknown>;
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

function isSealed(value: Json): value is { [SEALED]: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[SEALED] === 'string' &&
    Object.keys(value).length === 1
  );
}
