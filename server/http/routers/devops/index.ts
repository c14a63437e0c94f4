import { router } from '../../trpc';
import { backupProcedures } from './backups';
import { deploymentProcedures } from './deployments';
import { environmentProcedures } from './environments';
import { instanceProcedures } from './instance';

/** The devops router: environments, deployments, backups, maintenance and drain. */
export const devopsRouter = router({
  ...instanceProcedures,
  ...environmentProcedures((ctx) => ctx.deps.devops.environments),
  ...deploymentProcedures((ctx) => ctx.deps.devops.deployments),
  ...backupProcedures((ctx) => ctx.deps.devops.backups),
});
