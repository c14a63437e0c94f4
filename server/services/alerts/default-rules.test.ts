import { describe, expect, it } from 'vitest';
import { parseExpression } from '../../base/expressions/expression';
import { DEFAULT_ALERT_RULES } from './default-rules';

describe('the default alert rules', () => {
  it('parse, every one', () => {
    for (const rule of DEFAULT_ALERT_RULES)
      expect(() => parseExpression(rule.expression), rule.name).not.toThrow();
  });
});
