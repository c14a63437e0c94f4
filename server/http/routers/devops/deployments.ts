import {
  deploymentActionInput,
  deploymentApproveInput,
  deploymentCreateInput,
  deploymentIdInput,
  deploymentListInput,
  deploymentRollbackInput,
} from '../../../../shared/devops-deployments';
import { roleProcedure, router } from '../../trpc';
import { actorOf } from '../actor';

/**
 * `devops.deployments.*`: everyone in the organization reads deployments and their history;
 * operators create them and steer them (approve a gate, promote now, abort, roll back). The engine
 * carries the changes out; every one is in the deployment's events and the audit log.
 */
export const deploymentsRouter = router({
  create: roleProcedure('operator', 'devops:write')
    .input(deploymentCreateInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.deployments.create(actorOf(ctx, ctx.principal), input)),

  list: roleProcedure('viewer', 'devops:read')
    .input(deploymentListInput)
    .query(({ ctx, input }) => ctx.deps.devops.deployments.list(actorOf(ctx, ctx.principal), input)),

  get: roleProcedure('viewer', 'devops:read')
    .input(deploymentIdInput)
    .query(({ ctx, input }) => ctx.deps.devops.deployments.get(actorOf(ctx, ctx.principal), input.id)),

  approve: roleProcedure('operator', 'devops:write')
    .input(deploymentApproveInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.deployments.approve(actorOf(ctx, ctx.principal), input)),

  promote: roleProcedure('operator', 'devops:write')
    .input(deploymentActionInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.deployments.promote(actorOf(ctx, ctx.principal), input)),

  abort: roleProcedure('operator', 'devops:write')
    .input(deploymentActionInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.deployments.abort(actorOf(ctx, ctx.principal), input)),

  rollback: roleProcedure('operator', 'devops:write')
    .input(deploymentRollbackInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.deployments.rollback(actorOf(ctx, ctx.principal), input)),
});
