import { describe, expect, it } from 'vitest';
import { compileLabelPattern, LabelPatternError, MAX_PATTERN_LENGTH } from './label-pattern';

const matches = (pattern: string, value: string) => compileLabelPattern(pattern).matches(value);

describe('compileLabelPattern', () => {
  it('matches the whole value, as PromQL anchors its regular expressions', () => {
    expect(matches('5..', '503')).toBe(true);
    expect(matches('5..', '5030')).toBe(false);
    expect(matches('5..', '1503')).toBe(false);
    expect(matches('GET', 'GET')).toBe(true);
    expect(matches('', '')).toBe(true);
    expect(matches('', 'x')).toBe(false);
  });

  it('supports alternatives, classes, ranges, negation, escapes and * + ?', () => {
    expect(matches('GET|POST', 'POST')).toBe(true);
    expect(matches('GET|POST', 'PUT')).toBe(false);
    expect(matches('[45][0-9][0-9]', '429')).toBe(true);
    expect(matches('[^5]..', '503')).toBe(false);
    expect(matches('[^5]..', '404')).toBe(true);
    expect(matches('/api/trpc/.*', '/api/trpc/system.info')).toBe(true);
    expect(matches('/api/.+', '/api/')).toBe(false);
    expect(matches('colou?r', 'color')).toBe(true);
    expect(matches('colou?r', 'colour')).toBe(true);
    expect(matches('a\\.b', 'a.b')).toBe(true);
    expect(matches('a\\.b', 'axb')).toBe(false);
    expect(matches('[a-]x', '-x')).toBe(true);
    expect(matches('x*y*z*', '')).toBe(true);
    expect(matches('é.', 'éa')).toBe(true);
  });

  it('takes time linear in the value for patterns that make backtracking engines explode', () => {
    // (a*)*b-style blow-ups need nested quantifiers, which the subset has no groups for;
    // stacked stars are the worst it allows, and the automaton walks each character once.
    const evil = `${'a*'.repeat(50)}b`;
    expect(matches(evil, 'a'.repeat(10_000))).toBe(false);
    expect(matches(evil, `${'a'.repeat(10_000)}b`)).toBe(true);
  });

  it('refuses what is outside the subset, saying where', () => {
    const offsetOf = (pattern: string) => {
      try {
        compileLabelPattern(pattern);
      } catch (error) {
        if (error instanceof LabelPatternError) return error.offset;
        throw error;
      }
      return null;
    };
    expect(offsetOf('(a|b)')).toBe(0);
    expect(offsetOf('a{2}')).toBe(1);
    expect(offsetOf('^a')).toBe(0);
    expect(offsetOf('*a')).toBe(0);
    expect(offsetOf('a+*')).toBe(2);
    expect(offsetOf('[ab')).toBe(0);
    expect(offsetOf('[z-a]')).toBe(3);
    expect(offsetOf('a\\')).toBe(1);
    expect(offsetOf('x'.repeat(MAX_PATTERN_LENGTH + 1))).toBe(MAX_PATTERN_LENGTH);
  });
});
