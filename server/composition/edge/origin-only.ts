import { PlatformError } from '../../base/errors';

/**
 * The refusal of something the edge does not do: 405 METHOD_NOT_SUPPORTED (not 503, which a
 * client would retry here in vain), naming the origin as the place that does it.
 */
export function originOnlyError(what: string): PlatformError {
  return new PlatformError('METHOD_NOT_SUPPORTED', `${what}: served by the origin, not at the edge`);
}

/**
 * A service the edge cannot run (it needs the signing keys' key-encryption key, a LISTEN
 * connection, a timer, a file system or a child process) standing in for the real one in the
 * app's dependencies: reaching any of its members throws `originOnlyError(what)`, which tRPC and
 * the HTTP error handler turn into a 405 naming the origin. `available` lists members the edge
 * does provide (the authenticator of the auth services, say); nothing else answers.
 *
 * The cast is the point: the real services are classes the edge cannot construct, and the app
 * must not be able to tell the stand-in apart until it uses it.
 */
export function originOnly<T extends object>(what: string, available: Partial<T> = {}): T {
  return new Proxy(available, {
    get(target, property) {
      if (Object.hasOwn(target, property)) return target[property as keyof typeof target];
      // Not a promise (await and Promise.resolve look for `then`), and nothing for the runtime's
      // own probes (inspection, coercion), which use symbols.
      if (property === 'then' || typeof property === 'symbol') return undefined;
      throw originOnlyError(what);
    },
  }) as T;
}
