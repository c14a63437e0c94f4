import { router } from '../../trpc';
import { backupsRouter } from './backups';
import { deploymentsRouter } from './deployments';
import { environmentsRouter } from './environments';
import { instanceProcedures } from './instance';

/** The devops router: environments, deployments, backups, maintenance and drain. */
export const devopsRouter = router({
  ...instanceProcedures,
  environments: environmentsRouter,
  deployments: deploymentsRouter,
  backups: backupsRouter,
});
