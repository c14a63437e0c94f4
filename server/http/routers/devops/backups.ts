import {
  backupCreateInput,
  backupIdInput,
  backupListInput,
  backupRestoreInput,
  backupScheduleCreateInput,
  backupScheduleIdInput,
  backupScheduleUpdateInput,
} from '../../../../shared/devops-backups';
import { platformProcedure, router } from '../../trpc';
import { actorOf } from '../actor';
import { pointInTimeStatus, takeBaseBackup } from './point-in-time';

/**
 * `devops.backups.*`, platform scope: an archive holds every organization, so only platform roles
 * act here (a tenant's admin gets FORBIDDEN). Platform operators take, list, read and verify
 * backups; platform admins delete them, restore them (into the platform's own database, or one on
 * BACKUP_RESTORE_TARGETS) and manage schedules. Every action is in the platform's audit log.
 */
export const backupsRouter = router({
  create: platformProcedure('operator', 'devops:write')
    .input(backupCreateInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.backups.create(actorOf(ctx, ctx.principal), input)),

  list: platformProcedure('operator', 'devops:read')
    .input(backupListInput)
    .query(({ ctx, input }) => ctx.deps.devops.backups.list(input)),

  get: platformProcedure('operator', 'devops:read')
    .input(backupIdInput)
    .query(({ ctx, input }) => ctx.deps.devops.backups.get(input.id)),

  verify: platformProcedure('operator', 'devops:write')
    .input(backupIdInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.backups.verify(actorOf(ctx, ctx.principal), input.id)),

  delete: platformProcedure('admin', 'devops:write')
    .input(backupIdInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.backups.delete(actorOf(ctx, ctx.principal), input.id)),

  restore: platformProcedure('admin', 'devops:write')
    .input(backupRestoreInput)
    .mutation(({ ctx, input }) => ctx.deps.devops.backups.restore(actorOf(ctx, ctx.principal), input)),

  pointInTime: router({
    status: platformProcedure('operator', 'devops:read').query(({ ctx }) =>
      pointInTimeStatus(ctx.deps.devops.pointInTime),
    ),

    baseBackup: platformProcedure('admin', 'devops:write').mutation(({ ctx }) =>
      takeBaseBackup(ctx.deps.devops.pointInTime, actorOf(ctx, ctx.principal)),
    ),
  }),

  schedules: router({
    list: platformProcedure('operator', 'devops:read').query(({ ctx }) =>
      ctx.deps.devops.backups.schedules.list(),
    ),

    create: platformProcedure('admin', 'devops:write')
      .input(backupScheduleCreateInput)
      .mutation(({ ctx, input }) =>
        ctx.deps.devops.backups.schedules.create(actorOf(ctx, ctx.principal), input),
      ),

    update: platformProcedure('admin', 'devops:write')
      .input(backupScheduleUpdateInput)
      .mutation(({ ctx, input }) =>
        ctx.deps.devops.backups.schedules.update(actorOf(ctx, ctx.principal), input),
      ),

    delete: platformProcedure('admin', 'devops:write')
      .input(backupScheduleIdInput)
      .mutation(({ ctx, input }) =>
        ctx.deps.devops.backups.schedules.delete(actorOf(ctx, ctx.principal), input.id),
      ),
  }),
});
