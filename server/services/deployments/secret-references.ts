import { isSecretName, REFERENCE, referenceOf } from './sealed-config';

/*
 * Provider secrets taken from the deployment's environment: a secret-named field of the provider
 * configuration may hold `{ "environmentSecret": "NAME" }` rather than the secret, and the
 * deployment is created with that secret of its environment (the caller's organization's), sealed
 * as an inline one would be. The secret then lives in one place, with its revisions, and a
 * deployment started again from another's configuration needs nobody to type it.
 */

/** A reference somewhere a value would be shown back (a URL, a namespace): never resolved. */
export class MisplacedReferenceError extends Error {
  override name = 'MisplacedReferenceError';
}

/**
 * The names of the environment secrets a configuration refers to. Throws MisplacedReferenceError
 * for a reference under a name that is not a secret's: its value would be shown to anyone.
 */
export function referencedSecrets(config: Record<string, unknown>): string[] {
  const names = new Set<string>();
  const walk = (value: unknown, place: string, secretField: boolean): void => {
    const name = referenceOf(value);
    if (name !== null) {
      if (!secretField) {
        throw new MisplacedReferenceError(
          `${place}: ${REFERENCE} only in a secret's field (secret, token, password, apiKey…)`,
        );
      }
      names.add(name);
      return;
    }
    if (Array.isArray(value)) {
      // A secret-named field is sealed whole: a reference counts only as its value itself.
      for (const [index, item] of value.entries()) walk(item, `${place}[${index}]`, false);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value))
        walk(inner, place ? `${place}.${key}` : key, isSecretName(key));
    }
  };
  walk(config, '', false);
  return [...names];
}

/** The configuration with each reference replaced by its secret's value, for the provider to check. */
export function withSecrets(
  config: Record<string, unknown>,
  secretOf: (name: string) => string,
): Record<string, unknown> {
  const replace = (value: unknown): unknown => {
    const name = referenceOf(value);
    if (name !== null) return secretOf(name);
    if (Array.isArray(value)) return value.map(replace);
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, replace(inner)]));
    }
    return value;
  };
  return replace(config) as Record<string, unknown>;
}
