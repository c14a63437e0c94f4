import { TRPCError } from '@trpc/server';
import {
  configDiffInput,
  configHistoryInput,
  configRollbackInput,
  configSetInput,
  environmentCompareInput,
  environmentCreateInput,
  environmentNameInput,
} from '../../../../shared/devops-environments';
import { ConfigInvalidError } from '../../../services/devops/config-schema';
import { roleProcedure, router } from '../../trpc';
import { actorOf } from '../actor';

/**
 * `devops.environments.*`: everyone reads the current configurations (secrets redacted),
 * operators read history, diffs and comparisons, admins create environments and change or roll
 * back configuration. Every change is a revision with its author and an audit event; no
 * procedure ever returns a secret's value.
 */
export const environmentsRouter = router({
  list: roleProcedure('viewer', 'devops:read').query(({ ctx }) =>
    ctx.deps.devops.environments.list(ctx.principal),
  ),

  get: roleProcedure('viewer', 'devops:read')
    .input(environmentNameInput)
    .query(({ ctx, input }) => ctx.deps.devops.environments.get(ctx.principal, input.name)),

  create: roleProcedure('admin', 'devops:write')
    .input(environmentCreateInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.environments.create(actorOf(ctx, ctx.principal), input)),

  setConfig: roleProcedure('admin', 'devops:write')
    .input(configSetInput)
    .mutation(({ ctx, input }) => {
      const { name, ...change } = input;
      return withConfigIssues(
        ctx.deps.devops.environments.setConfig(actorOf(ctx, ctx.principal), name, change),
      );
    }),

  history: roleProcedure('operator', 'devops:read')
    .input(configHistoryInput)
    .query(({ ctx, input }) =>
      ctx.deps.devops.environments.history(ctx.principal, input.name, {
        limit: input.limit,
        cursor: input.cursor,
      }),
    ),

  diff: roleProcedure('operator', 'devops:read')
    .input(configDiffInput)
    .query(({ ctx, input }) =>
      ctx.deps.devops.environments.diff(ctx.principal, input.name, input.from, input.to),
    ),

  rollback: roleProcedure('admin', 'devops:write')
    .input(configRollbackInput)
    .mutation(({ ctx, input }) =>
      withConfigIssues(
        ctx.deps.devops.environments.rollback(actorOf(ctx, ctx.principal), input.name, input.toRevision, {
          message: input.message,
          expectedRevision: input.expectedRevision,
        }),
      ),
    ),

  compare: roleProcedure('operator', 'devops:read')
    .input(environmentCompareInput)
    .query(({ ctx, input }) => ctx.deps.devops.environments.compare(ctx.principal, input.a, input.b)),
});

/**
 * A configuration that breaks its environment's rules reaches the caller as an invalid input
 * does: BAD_REQUEST, with zod's issues flattened into `data.validation` by the error formatter.
 */
async function withConfigIssues<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof ConfigInvalidError) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: error.message, cause: error.issues });
    }
    throw error;
  }
}
