import { bottleneckInput, capacityInput } from '../../../operations/live-figures';
import { detectBottlenecks } from '../../../services/performance/bottlenecks';
import { estimateCapacity } from '../../../services/performance/capacity';
import { platformProcedure } from '../../trpc';

/** `performance.bottlenecks` and `performance.capacity`, to be spread into the performance router. */
export const insightProcedures = {
  /** Findings of the bottleneck rules over the live figures, most severe first. */
  bottlenecks: platformProcedure('operator', 'performance:read').query(({ ctx }) => {
    const findings = detectBottlenecks(bottleneckInput(ctx.deps));
    return { at: new Date().toISOString(), findings };
  }),

  /** Throughput, costs per request, utilisation and the headroom before the first resource saturates. */
  capacity: platformProcedure('operator', 'performance:read').query(({ ctx }) => ({
    at: new Date().toISOString(),
    ...estimateCapacity(capacityInput(ctx.deps)),
  })),
};
