import { describe, expect, it } from 'vitest';
import { deploymentSpec } from '../../../shared/devops-deployments';
import { compilePlan, promotionTarget } from './plan';

const analysis = {
  metrics: [{ name: 'error-rate', query: 'errors', successCondition: { op: '<', value: 0.05 } }],
  intervalSeconds: 0.5,
  count: 2,
};

const plan = (spec: unknown) => compilePlan(deploymentSpec.parse(spec));

describe('compilePlan', () => {
  it('turns canary steps into a plan between prepare and promote, a gate after each step marked gate: true', () => {
    const steps = plan({
      strategy: 'canary',
      steps: [
        { setWeight: 5, gate: true },
        { pause: { durationSeconds: 30 } },
        { analysis },
        { gate: { name: 'product owner' } },
        { pause: {} },
      ],
    });
    expect(steps.map((s) => (s.kind === 'gate' ? `gate:${s.name}` : s.kind))).toEqual([
      'prepare',
      'setWeight',
      'gate:after step 1',
      'pause',
      'analysis',
      'gate:product owner',
      'pause',
      'promote',
    ]);
    expect(steps[3]).toEqual({ kind: 'pause', durationSeconds: 30, purpose: 'pause' });
    expect(steps[6]).toEqual({ kind: 'pause', durationSeconds: null, purpose: 'pause' });
    // The analysis keeps its spec with the schema's defaults filled in.
    expect(steps[4]).toMatchObject({ kind: 'analysis', analysis: { failureLimit: 0, inconclusiveLimit: 0 } });
  });

  it('replaces maxSurge + maxUnavailable replicas per rolling batch, the last batch taking what is left', () => {
    const steps = plan({
      strategy: 'rolling',
      replicas: 5,
      maxSurge: 1,
      maxUnavailable: 1,
      analysisPerBatch: analysis,
      pauseBetweenBatchesSeconds: 10,
      gateEachBatch: true,
    });
    expect(steps.map((s) => (s.kind === 'scale' ? `scale ${s.updated}/${s.total}` : s.kind))).toEqual([
      'prepare',
      'scale 2/5',
      'analysis',
      'gate',
      'pause',
      'scale 4/5',
      'analysis',
      'gate',
      'pause',
      'scale 5/5',
      'analysis',
      'promote',
    ]);
    expect(plan({ strategy: 'rolling', replicas: 3 }).map((s) => s.kind)).toEqual([
      'prepare',
      'scale',
      'scale',
      'scale',
      'promote',
    ]);
  });

  it('gives blue-green a promotion gate unless auto-promoted, and a scale-down delay after the cut-over', () => {
    expect(
      plan({ strategy: 'blueGreen', previewAnalysis: analysis, autoPromote: false }).map((s) => s.kind),
    ).toEqual(['prepare', 'analysis', 'gate', 'promote', 'pause']);
    expect(plan({ strategy: 'blueGreen', scaleDownDelaySeconds: 0 })).toEqual([
      { kind: 'prepare' },
      { kind: 'promote' },
    ]);
  });

  it('promotes now by jumping to the promote step, or past the end once promotion is done', () => {
    const steps = plan({ strategy: 'blueGreen', autoPromote: false, scaleDownDelaySeconds: 30 });
    expect(promotionTarget(steps, 1)).toBe(2);
    expect(promotionTarget(steps, 2)).toBe(2);
    expect(promotionTarget(steps, 3)).toBe(4);
  });
});

describe('deploymentSpec', () => {
  const refusal = (spec: unknown) => deploymentSpec.safeParse(spec).error?.issues.map((i) => i.message);

  it('refuses specs the engine could not run', () => {
    expect(refusal({ strategy: 'rolling', replicas: 3, maxSurge: 0, maxUnavailable: 0 })).toEqual([
      'maxSurge and maxUnavailable cannot both be 0',
    ]);
    expect(refusal({ strategy: 'canary', steps: [] })).toHaveLength(1);
    expect(refusal({ strategy: 'canary', steps: [{ setWeight: 101 }] })).toHaveLength(1);
    expect(refusal({ strategy: 'canary', steps: [{ setWeight: 10, pause: {} }] })).toHaveLength(1);
    expect(
      refusal({
        strategy: 'canary',
        steps: [{ analysis: { ...analysis, metrics: [...analysis.metrics, ...analysis.metrics] } }],
      }),
    ).toHaveLength(1);
    expect(refusal({ strategy: 'canary', steps: [{ analysis: { ...analysis, count: 101 } }] })).toHaveLength(
      1,
    );
    expect(refusal({ strategy: 'recreate' })).toHaveLength(1);
  });

  it('fills in Argo’s defaults and accepts fractional seconds', () => {
    expect(deploymentSpec.parse({ strategy: 'blueGreen' })).toEqual({
      strategy: 'blueGreen',
      autoPromote: true,
      scaleDownDelaySeconds: 30,
    });
    expect(
      deploymentSpec.parse({ strategy: 'canary', steps: [{ pause: { durationSeconds: 0.25 } }] }),
    ).toEqual({
      strategy: 'canary',
      steps: [{ pause: { durationSeconds: 0.25 } }],
    });
  });
});
