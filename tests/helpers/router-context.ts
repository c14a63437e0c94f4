import { readBuildInfo } from '../../server/base/build-info';
import { loadConfig } from '../../server/base/config';
import { createLogger } from '../../server/base/logger';
import type { Principal } from '../../server/base/principal';
import { buildDependencies } from '../../server/composition/dependencies';
import type { Context } from '../../server/http/context';
import type { AppDeps } from '../../server/http/deps';

let built: AppDeps | undefined;

/**
 * The real AppDeps, built once per test file the way the server builds them but never started:
 * nothing connects (the database URL leads nowhere), so only what a test puts in place is reached.
 */
function baseDeps(): AppDeps {
  built ??= buildDependencies({
    config: loadConfig({ NODE_ENV: 'test' }),
    logger: createLogger({ level: 'silent' }),
    build: readBuildInfo(),
    databaseUrl: 'postgres://unused@127.0.0.1:1/unused',
    kek: new Uint8Array(32),
  });
  return built;
}

/**
 * The app's dependencies with the test's own services in their places, e.g.
 * `routerDeps((deps) => ({ devops: { ...deps.devops, backups: service } }))`.
 */
export function routerDeps(
  overrides: Partial<AppDeps> | ((deps: AppDeps) => Partial<AppDeps>) = {},
): AppDeps {
  const deps = baseDeps();
  return { ...deps, ...(typeof overrides === 'function' ? overrides(deps) : overrides) };
}

/** The context of an in-process call by `principal` (the policy trusts the principal given). */
export function routerContext(principal: Principal, deps: AppDeps, requestId = 'router-test'): Context {
  return { deps, requestId, log: () => deps.logger, http: null, principal };
}

/** Closes what `routerDeps` built (its database pool never opened a connection); for afterAll. */
export async function closeRouterDeps(): Promise<void> {
  const deps = built;
  built = undefined;
  await deps?.database.close();
}
