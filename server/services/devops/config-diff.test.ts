import { describe, expect, it } from 'vitest';
import { compareConfigs, diffConfigs, EMPTY_CONFIG, isEmptyDiff, type StoredConfig } from './config-diff';

const secret = (fingerprint: string) => ({ sealed: `v1.sealed-${fingerprint}`, fingerprint });

describe('configuration diffs', () => {
  it('tell added, removed and changed values apart, by type as well as value', () => {
    const from: StoredConfig = { values: { A: 1, B: 'x', C: true }, secrets: {} };
    const to: StoredConfig = { values: { A: '1', C: true, D: 0 }, secrets: {} };
    expect(diffConfigs(from, to).values).toEqual({
      added: { D: 0 },
      removed: { B: 'x' },
      changed: { A: { from: 1, to: '1' } },
    });
  });

  it('compare secrets by fingerprint only: a resealed same value is no change', () => {
    const from: StoredConfig = {
      values: {},
      secrets: { KEEP: secret('aa'), ROTATE: secret('bb'), DROP: secret('cc') },
    };
    const to: StoredConfig = {
      values: {},
      secrets: {
        KEEP: { sealed: 'v1.resealed', fingerprint: 'aa' },
        ROTATE: secret('dd'),
        NEW: secret('ee'),
      },
    };
    const diff = diffConfigs(from, to);
    expect(diff.secrets).toEqual({ added: ['NEW'], removed: ['DROP'], changed: ['ROTATE'] });
    expect(JSON.stringify(diff)).not.toContain('sealed');
    expect(isEmptyDiff(diffConfigs(from, from))).toBe(true);
    expect(isEmptyDiff(diffConfigs(EMPTY_CONFIG, from))).toBe(false);
  });

  it('compare two environments side by side, keys sorted', () => {
    const a: StoredConfig = {
      values: { Z: 1, SAME: 's', DIFF: 1 },
      secrets: { S1: secret('1'), S2: secret('2') },
    };
    const b: StoredConfig = {
      values: { SAME: 's', DIFF: 2, ONLY_B: false },
      secrets: { S2: secret('x'), S3: secret('3') },
    };
    expect(compareConfigs(a, b)).toEqual({
      values: {
        onlyInA: { Z: 1 },
        onlyInB: { ONLY_B: false },
        different: { DIFF: { a: 1, b: 2 } },
        same: ['SAME'],
      },
      secrets: { onlyInA: ['S1'], onlyInB: ['S3'], different: ['S2'], same: [] },
    });
  });
});
