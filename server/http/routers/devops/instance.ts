import { drainInput, maintenanceSetInput } from '../../../../shared/devops-instance';
import { authenticatedProcedure, platformProcedure, router } from '../../trpc';
import { actorOf } from '../actor';

/** How often a drain checks whether the requests in flight have finished. */
const DRAIN_POLL_MS = 50;

/** `devops.instance.drain` and `devops.maintenance.*`, to be spread into the devops router. */
export const instanceProcedures = {
  instance: router({
    /**
     * Drains the instance that receives the call (for a blue-green cut-over): readiness answers
     * 503 so load balancers stop sending, requests keep being served, and with `waitSeconds` the
     * answer comes once the others in flight have finished. `draining: false` cancels it.
     */
    drain: platformProcedure('operator', 'devops:write')
      .input(drainInput)
      .mutation(async ({ ctx, input }) => {
        const { lifecycle } = ctx.deps;
        if (!input.draining) lifecycle.endDrain();
        else lifecycle.beginDrain();
        const deadline = Date.now() + input.waitSeconds * 1000;
        // This call is itself in flight: the instance is drained when it is the only one.
        while (input.draining && lifecycle.activeRequests() > 1 && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
        }
        await ctx.deps.database.transaction((db) =>
          ctx.deps.auth.audit.record(db, {
            scope: 'platform',
            type: 'instance_drained',
            result: 'success',
            actor: actorOf(ctx, ctx.principal),
            details: { draining: input.draining, pid: process.pid },
          }),
        );
        const others = Math.max(0, lifecycle.activeRequests() - 1);
        return {
          draining: lifecycle.isDraining(),
          inFlight: others,
          drained: input.draining && others === 0,
        };
      }),
  }),

  maintenance: router({
    get: authenticatedProcedure.query(({ ctx }) => ctx.deps.maintenance.current()),
    /**
     * On: every instance answers mutations with 503, Retry-After and the message (sign-in and
     * these switches excepted); reads and health go on. Off: back to normal.
     */
    set: platformProcedure('admin', 'devops:write')
      .input(maintenanceSetInput)
      .mutation(({ ctx, input }) => ctx.deps.maintenance.set(actorOf(ctx, ctx.principal), input)),
  }),
};
