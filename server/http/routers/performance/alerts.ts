import {
  alertHistoryInput,
  alertRuleCreateInput,
  alertRuleIdInput,
  alertRuleUpdateInput,
  alertWebhookCreateInput,
  alertWebhookIdInput,
} from '../../../../shared/alerts';
import { platformProcedure, router } from '../../trpc';

/**
 * `performance.alerts`: rules with their current state, their history, rule changes (operators),
 * and webhook endpoints (admins; a webhook's secret is shown once, at creation). Everything is
 * confined to the caller's organization, plus the read-only platform-wide rules.
 */
export const alertsRouter = router({
  list: platformProcedure('operator', 'performance:read').query(({ ctx }) =>
    ctx.deps.alerts.rules.list(ctx.principal),
  ),

  history: platformProcedure('operator', 'performance:read')
    .input(alertHistoryInput)
    .query(({ ctx, input }) => ctx.deps.alerts.rules.history(ctx.principal, input)),

  create: platformProcedure('operator', 'performance:write')
    .input(alertRuleCreateInput)
    .mutation(({ ctx, input }) => ctx.deps.alerts.rules.create(ctx.principal, input)),

  update: platformProcedure('operator', 'performance:write')
    .input(alertRuleUpdateInput)
    .mutation(({ ctx, input }) => ctx.deps.alerts.rules.update(ctx.principal, input)),

  delete: platformProcedure('operator', 'performance:write')
    .input(alertRuleIdInput)
    .mutation(({ ctx, input }) => ctx.deps.alerts.rules.delete(ctx.principal, input.id)),

  webhooks: router({
    create: platformProcedure('admin', 'performance:write')
      .input(alertWebhookCreateInput)
      .mutation(({ ctx, input }) => ctx.deps.alerts.webhooks.create(ctx.principal, input)),

    list: platformProcedure('admin', 'performance:read').query(({ ctx }) =>
      ctx.deps.alerts.webhooks.list(ctx.principal),
    ),

    delete: platformProcedure('admin', 'performance:write')
      .input(alertWebhookIdInput)
      .mutation(({ ctx, input }) => ctx.deps.alerts.webhooks.delete(ctx.principal, input.id)),
  }),
});
