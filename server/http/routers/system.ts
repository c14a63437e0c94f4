import { insertAnnotation, listAnnotations } from '../../../db/repositories/annotations';
import type { AnnotationRow } from '../../../db/repositories/annotations.table';
import { pageOf } from '../../../shared/pagination';
import {
  type Annotation,
  annotationCreateInput,
  annotationListInput,
  type SystemInfo,
  selfTestInput,
} from '../../../shared/system';
import { buildHealthReport } from '../../operations/health';
import { runSelfTest } from '../../operations/self-test';
import { buildSystemStatus } from '../../operations/status';
import { edgeRoleProcedure, platformProcedure, publicProcedure, roleProcedure, router } from '../trpc';

function toAnnotation(row: AnnotationRow): Annotation {
  return { id: Number(row.id), text: row.text, tags: row.tags, createdAt: row.created_at.toISOString() };
}

export const systemRouter = router({
  /** The full health report, as GET /api/health gives it. */
  health: publicProcedure.query(({ ctx }) => buildHealthReport(ctx.deps)),

  /** Version, runtime, commit and uptime of this instance. */
  info: publicProcedure.query(({ ctx }): SystemInfo => {
    const { build, startedAt } = ctx.deps;
    return {
      name: build.name,
      version: build.version,
      commit: build.commit,
      runtime: { name: build.runtime, version: build.runtimeVersion },
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    };
  }),

  /** Components, resources, configuration (redacted) and a traffic summary. */
  status: platformProcedure('operator', 'system:read').query(({ ctx }) => buildSystemStatus(ctx.deps)),

  /** Exercises every component for real (database write/read/delete, pool, cache, metrics). */
  selfTest: platformProcedure('operator', 'system:write')
    .input(selfTestInput)
    .mutation(({ ctx, input }) => runSelfTest(ctx.deps.initializer.components(), input?.components)),

  annotations: router({
    /**
     * Records an operator annotation. A failure before the commit is always retried (nothing was
     * written); a connection lost during the commit only with an idempotency key, which keeps a
     * second try from writing a second row.
     */
    create: roleProcedure('operator', 'system:write')
      .input(annotationCreateInput)
      .mutation(async ({ ctx, input }) => {
        const values = {
          organization_id: ctx.principal.organizationId,
          text: input.text,
          tags: input.tags,
          idempotency_key: input.idempotencyKey ?? null,
        };
        const row = await ctx.deps.database.transaction((trx) => insertAnnotation(trx, values), {
          idempotent: input.idempotencyKey !== undefined,
        });
        return toAnnotation(row);
      }),

    /** Served at the edge as well: it reads the database alone. */
    list: edgeRoleProcedure('viewer', 'system:read')
      .input(annotationListInput)
      .query(async ({ ctx, input }) => {
        const query = {
          tag: input.tag,
          limit: input.limit + 1,
          before: input.cursor === undefined ? undefined : Number(input.cursor),
        };
        const rows = await ctx.deps.database.read((db) =>
          listAnnotations(db, ctx.principal.organizationId, query),
        );
        return pageOf(rows, input.limit, toAnnotation, (row) => String(row.id));
      }),
  }),
});
