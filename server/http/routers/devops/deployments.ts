import {
  deploymentActionInput,
  deploymentApproveInput,
  deploymentCreateInput,
  deploymentIdInput,
  deploymentListInput,
  deploymentRollbackInput,
} from '../../../../shared/devops-deployments';
import type { DeploymentService } from '../../../services/deployments/deployments';
import type { Context } from '../../context';
import { roleProcedure, router } from '../../trpc';
import { actorOf } from '../actor';

/**
 * `devops.deployments.*`: everyone in the organization reads deployments and their history;
 * operators create them and steer them (approve a gate, promote now, abort, roll back). The engine
 * carries the changes out; every one is in the deployment's events and the audit log.
 *
 * `get` finds the service in the context, so the devops router decides where it lives.
 */
export function deploymentProcedures(get: (ctx: Context) => DeploymentService) {
  return {
    deployments: router({
      create: roleProcedure('operator', 'devops:write')
        .input(deploymentCreateInput)
        .mutation(({ ctx, input }) => get(ctx).create(actorOf(ctx, ctx.principal), input)),

      list: roleProcedure('viewer', 'devops:read')
        .input(deploymentListInput)
        .query(({ ctx, input }) => get(ctx).list(actorOf(ctx, ctx.principal), input)),

      get: roleProcedure('viewer', 'devops:read')
        .input(deploymentIdInput)
        .query(({ ctx, input }) => get(ctx).get(actorOf(ctx, ctx.principal), input.id)),

      approve: roleProcedure('operator', 'devops:write')
        .input(deploymentApproveInput)
        .mutation(({ ctx, input }) => get(ctx).approve(actorOf(ctx, ctx.principal), input)),

      promote: roleProcedure('operator', 'devops:write')
        .input(deploymentActionInput)
        .mutation(({ ctx, input }) => get(ctx).promote(actorOf(ctx, ctx.principal), input)),

      abort: roleProcedure('operator', 'devops:write')
        .input(deploymentActionInput)
        .mutation(({ ctx, input }) => get(ctx).abort(actorOf(ctx, ctx.principal), input)),

      rollback: roleProcedure('operator', 'devops:write')
        .input(deploymentRollbackInput)
        .mutation(({ ctx, input }) => get(ctx).rollback(actorOf(ctx, ctx.principal), input)),
    }),
  };
}
