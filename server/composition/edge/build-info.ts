import packageJson from '../../../package.json' with { type: 'json' };
import { type BuildInfo, detectRuntime } from '../../base/build-info';

/**
 * The build info of the Worker: name and version bundled from package.json (a Worker has no
 * files to read them from at run time), the commit from the GIT_COMMIT variable of the deploy.
 */
export function edgeBuildInfo(commit: string): BuildInfo {
  return { name: packageJson.name, version: packageJson.version, commit, ...detectRuntime() };
}
