import type {
  BlueGreenSpec,
  CanarySpec,
  DeploymentSpec,
  PlanStep,
  RollingSpec,
} from '../../../shared/devops-deployments';

/**
 * The flat list of steps a spec compiles to. The engine runs it in order and stores only an index
 * into it, so the plan must come out the same for the same spec on every instance and release:
 * change this only together with a migration of `current_step` for deployments under way.
 *
 * Every plan starts with `prepare` (the new version up, no traffic) and contains exactly one
 * `promote` (the new version becomes the stable one): "promote now" jumps to it.
 */
export function compilePlan(spec: DeploymentSpec): PlanStep[] {
  switch (spec.strategy) {
    case 'canary':
      return canaryPlan(spec);
    case 'blueGreen':
      return blueGreenPlan(spec);
    case 'rolling':
      return rollingPlan(spec);
  }
}

/** Argo's canary: the steps as written, then full promotion. `gate: true` waits after its step. */
function canaryPlan(spec: CanarySpec): PlanStep[] {
  const plan: PlanStep[] = [{ kind: 'prepare' }];
  spec.steps.forEach((step, index) => {
    if ('setWeight' in step) plan.push({ kind: 'setWeight', weight: step.setWeight });
    else if ('pause' in step)
      plan.push({ kind: 'pause', durationSeconds: step.pause.durationSeconds ?? null, purpose: 'pause' });
    else if ('analysis' in step) plan.push({ kind: 'analysis', analysis: step.analysis, purpose: 'canary' });
    else {
      plan.push({ kind: 'gate', name: step.gate.name });
      return;
    }
    if (step.gate) plan.push({ kind: 'gate', name: `after step ${index + 1}` });
  });
  plan.push({ kind: 'promote' });
  return plan;
}

/**
 * Argo's blue-green: the preview comes up beside the stable version, is analysed, and takes all
 * traffic at once. The old version stays up for the scale-down delay, during which an abort
 * brings it back without waiting for it to start.
 */
function blueGreenPlan(spec: BlueGreenSpec): PlanStep[] {
  const plan: PlanStep[] = [{ kind: 'prepare' }];
  if (spec.previewAnalysis)
    plan.push({ kind: 'analysis', analysis: spec.previewAnalysis, purpose: 'preview' });
  if (!spec.autoPromote) plan.push({ kind: 'gate', name: 'promotion' });
  plan.push({ kind: 'promote' });
  if (spec.scaleDownDelaySeconds > 0)
    plan.push({ kind: 'pause', durationSeconds: spec.scaleDownDelaySeconds, purpose: 'scaleDownDelay' });
  return plan;
}

/**
 * Kubernetes' rolling update in batches: `maxSurge + maxUnavailable` replicas are replaced at a
 * time (new ones up to maxSurge above the count, old ones down to maxUnavailable below it).
 */
function rollingPlan(spec: RollingSpec): PlanStep[] {
  const plan: PlanStep[] = [{ kind: 'prepare' }];
  const batch = Math.max(1, spec.maxSurge + spec.maxUnavailable);
  for (let updated = Math.min(batch, spec.replicas); ; updated = Math.min(updated + batch, spec.replicas)) {
    plan.push({ kind: 'scale', updated, total: spec.replicas });
    if (spec.analysisPerBatch)
      plan.push({ kind: 'analysis', analysis: spec.analysisPerBatch, purpose: 'batch' });
    if (updated >= spec.replicas) break;
    if (spec.gateEachBatch)
      plan.push({ kind: 'gate', name: `after ${updated} of ${spec.replicas} replicas` });
    if (spec.pauseBetweenBatchesSeconds > 0)
      plan.push({
        kind: 'pause',
        durationSeconds: spec.pauseBetweenBatchesSeconds,
        purpose: 'betweenBatches',
      });
  }
  plan.push({ kind: 'promote' });
  return plan;
}

/** Where "promote now" jumps: the promote step, or past the end once promotion has happened. */
export function promotionTarget(plan: PlanStep[], currentStep: number): number {
  const promote = plan.findIndex((step) => step.kind === 'promote');
  return currentStep <= promote ? promote : plan.length;
}

/** A short description of a step for events and pause reasons. */
export function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case 'prepare':
      return 'prepare the new version';
    case 'setWeight':
      return `set the canary weight to ${step.weight}%`;
    case 'scale':
      return `update ${step.updated} of ${step.total} replicas`;
    case 'pause':
      return step.durationSeconds === null ? 'pause until approved' : `pause ${step.durationSeconds} s`;
    case 'analysis':
      return `${step.purpose} analysis`;
    case 'gate':
      return `gate "${step.name}"`;
    case 'promote':
      return 'promote the new version';
  }
}
