import {
  alertHistoryInput,
  alertRuleCreateInput,
  alertRuleIdInput,
  alertRuleUpdateInput,
  alertWebhookCreateInput,
  alertWebhookIdInput,
} from '../../../../shared/alerts';
import type { AlertServices } from '../../../services/alerts/services';
import type { Context } from '../../context';
import { platformProcedure, router } from '../../trpc';

/**
 * `performance.alerts`: rules with their current state, their history, rule changes (operators),
 * and webhook endpoints (admins; a webhook's secret is shown once, at creation). Everything is
 * confined to the caller's organization, plus the read-only platform-wide rules.
 *
 * `get` finds the alert services in the context, so the performance router decides where they live.
 */
export function alertProcedures(get: (ctx: Context) => AlertServices) {
  return {
    alerts: router({
      list: platformProcedure('operator', 'performance:read').query(({ ctx }) =>
        get(ctx).rules.list(ctx.principal),
      ),

      history: platformProcedure('operator', 'performance:read')
        .input(alertHistoryInput)
        .query(({ ctx, input }) => get(ctx).rules.history(ctx.principal, input)),

      create: platformProcedure('operator', 'performance:write')
        .input(alertRuleCreateInput)
        .mutation(({ ctx, input }) => get(ctx).rules.create(ctx.principal, input)),

      update: platformProcedure('operator', 'performance:write')
        .input(alertRuleUpdateInput)
        .mutation(({ ctx, input }) => get(ctx).rules.update(ctx.principal, input)),

      delete: platformProcedure('operator', 'performance:write')
        .input(alertRuleIdInput)
        .mutation(({ ctx, input }) => get(ctx).rules.delete(ctx.principal, input.id)),

      webhooks: router({
        create: platformProcedure('admin', 'performance:write')
          .input(alertWebhookCreateInput)
          .mutation(({ ctx, input }) => get(ctx).webhooks.create(ctx.principal, input)),

        list: platformProcedure('admin', 'performance:read').query(({ ctx }) =>
          get(ctx).webhooks.list(ctx.principal),
        ),

        delete: platformProcedure('admin', 'performance:write')
          .input(alertWebhookIdInput)
          .mutation(({ ctx, input }) => get(ctx).webhooks.delete(ctx.principal, input.id)),
      }),
    }),
  };
}
