import { PlatformError } from '../base/errors';
import type { AppDeps, RequestDeps } from './deps';

/** Whether these are the origin's dependencies, with every service built. */
export function isOrigin(deps: RequestDeps): deps is AppDeps {
  return deps.site === 'origin';
}

/**
 * The refusal of something the edge does not do: 405 METHOD_NOT_SUPPORTED (not 503, which a
 * client would retry here in vain), naming the origin as the place that does it.
 */
export function servedByOrigin(what: string): PlatformError {
  return new PlatformError('METHOD_NOT_SUPPORTED', `${what}: served by the origin, not at the edge`);
}
