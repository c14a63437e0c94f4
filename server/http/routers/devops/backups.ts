import {
  backupCreateInput,
  backupIdInput,
  backupListInput,
  backupRestoreInput,
  backupScheduleCreateInput,
  backupScheduleIdInput,
  backupScheduleUpdateInput,
} from '../../../../shared/devops-backups';
import type { BackupService } from '../../../services/backups/service';
import type { Context } from '../../context';
import { platformProcedure, router } from '../../trpc';
import { actorOf } from '../actor';

/**
 * `devops.backups.*`, platform scope: an archive holds every organization, so only platform roles
 * act here (a tenant's admin gets FORBIDDEN). Platform operators take, list, read and verify
 * backups; platform admins delete them, restore them (into the platform's own database, or one on
 * BACKUP_RESTORE_TARGETS) and manage schedules. Every action is in the platform's audit log.
 *
 * `get` finds the service in the context, so the devops router decides where it lives.
 */
export function backupProcedures(get: (ctx: Context) => BackupService) {
  return {
    backups: router({
      create: platformProcedure('operator', 'devops:write')
        .input(backupCreateInput)
        .mutation(({ ctx, input }) => get(ctx).create(actorOf(ctx, ctx.principal), input)),

      list: platformProcedure('operator', 'devops:read')
        .input(backupListInput)
        .query(({ ctx, input }) => get(ctx).list(input)),

      get: platformProcedure('operator', 'devops:read')
        .input(backupIdInput)
        .query(({ ctx, input }) => get(ctx).get(input.id)),

      verify: platformProcedure('operator', 'devops:write')
        .input(backupIdInput)
        .mutation(({ ctx, input }) => get(ctx).verify(actorOf(ctx, ctx.principal), input.id)),

      delete: platformProcedure('admin', 'devops:write')
        .input(backupIdInput)
        .mutation(({ ctx, input }) => get(ctx).delete(actorOf(ctx, ctx.principal), input.id)),

      restore: platformProcedure('admin', 'devops:write')
        .input(backupRestoreInput)
        .mutation(({ ctx, input }) => get(ctx).restore(actorOf(ctx, ctx.principal), input)),

      schedules: router({
        list: platformProcedure('operator', 'devops:read').query(({ ctx }) => get(ctx).schedules.list()),

        create: platformProcedure('admin', 'devops:write')
          .input(backupScheduleCreateInput)
          .mutation(({ ctx, input }) => get(ctx).schedules.create(actorOf(ctx, ctx.principal), input)),

        update: platformProcedure('admin', 'devops:write')
          .input(backupScheduleUpdateInput)
          .mutation(({ ctx, input }) => get(ctx).schedules.update(actorOf(ctx, ctx.principal), input)),

        delete: platformProcedure('admin', 'devops:write')
          .input(backupScheduleIdInput)
          .mutation(({ ctx, input }) => get(ctx).schedules.delete(actorOf(ctx, ctx.principal), input.id)),
      }),
    }),
  };
}
