/**
 * The label patterns of `=~` and `!~` matchers: a small subset of regular expressions (literals,
 * `.`, character classes, `*`, `+`, `?`, and `|` between alternatives), anchored at both ends as in
 * PromQL. Rules are written by users, so the pattern never reaches JavaScript's backtracking
 * RegExp engine: it is matched by simulating its automaton, in time linear in the label value
 * whatever the pattern (no catastrophic backtracking, no ReDoS).
 */

export const MAX_PATTERN_LENGTH = 200;

/** The pattern is outside the supported subset; `offset` is where, within the pattern. */
export class LabelPatternError extends Error {
  override name = 'LabelPatternError';
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

interface Item {
  test(codePoint: number): boolean;
  /** Whether the item may match nothing (`?`, `*`). */
  optional: boolean;
  /** Whether the item may match again after it has matched (`*`). */
  repeats: boolean;
}

export interface LabelPattern {
  source: string;
  matches(value: string): boolean;
}

export function compileLabelPattern(source: string): LabelPattern {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new LabelPatternError(`a pattern is at most ${MAX_PATTERN_LENGTH} characters`, MAX_PATTERN_LENGTH);
  }
  const alternatives = parseAlternatives(source);
  return {
    source,
    matches: (value) => alternatives.some((items) => run(items, value)),
  };
}

function parseAlternatives(source: string): Item[][] {
  const chars = Array.from(source);
  const alternatives: Item[][] = [[]];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i] as string;
    const current = alternatives[alternatives.length - 1] as Item[];
    if (c === '|') {
      alternatives.push([]);
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      throw new LabelPatternError(`'${c}' must follow a character, '.' or a class`, i);
    }
    if ('(){}^$'.includes(c)) {
      throw new LabelPatternError(
        `'${c}' is not supported (groups, counted repetition and anchors are not; patterns match the whole value)`,
        i,
      );
    }
    let test: (cp: number) => boolean;
    if (c === '.') {
      test = () => true;
      i++;
    } else if (c === '[') {
      const parsed = parseClass(chars, i);
      test = parsed.test;
      i = parsed.end;
    } else if (c === '\\') {
      const escaped = chars[i + 1];
      if (escaped === undefined) throw new LabelPatternError('a pattern cannot end with a backslash', i);
      const cp = escaped.codePointAt(0) as number;
      test = (x) => x === cp;
      i += 2;
    } else {
      const cp = c.codePointAt(0) as number;
      test = (x) => x === cp;
      i++;
    }
    const quantifier = chars[i];
    if (quantifier === '*') {
      current.push({ test, optional: true, repeats: true });
      i++;
    } else if (quantifier === '+') {
      // x+ is x followed by x*.
      current.push({ test, optional: false, repeats: false }, { test, optional: true, repeats: true });
      i++;
    } else if (quantifier === '?') {
      current.push({ test, optional: true, repeats: false });
      i++;
    } else {
      current.push({ test, optional: false, repeats: false });
    }
    if (chars[i] === '*' || chars[i] === '+' || chars[i] === '?') {
      throw new LabelPatternError('a quantifier cannot follow another quantifier', i);
    }
  }
  return alternatives;
}

function parseClass(chars: string[], start: number): { test: (cp: number) => boolean; end: number } {
  let i = start + 1;
  const negated = chars[i] === '^';
  if (negated) i++;
  const ranges: [number, number][] = [];
  const read = (): number => {
    let c = chars[i];
    if (c === '\\') {
      i++;
      c = chars[i];
    }
    if (c === undefined) throw new LabelPatternError("a character class needs its closing ']'", start);
    i++;
    return c.codePointAt(0) as number;
  };
  while (chars[i] !== ']' || ranges.length === 0) {
    if (chars[i] === undefined) throw new LabelPatternError("a character class needs its closing ']'", start);
    if (chars[i] === ']' && ranges.length === 0)
      throw new LabelPatternError('a character class is empty', start);
    const low = read();
    if (chars[i] === '-' && chars[i + 1] !== undefined && chars[i + 1] !== ']') {
      i++;
      const high = read();
      if (high < low) throw new LabelPatternError('a character range runs backwards', i - 1);
      ranges.push([low, high]);
    } else {
      ranges.push([low, low]);
    }
  }
  const inClass = (cp: number) => ranges.some(([low, high]) => cp >= low && cp <= high);
  return { test: negated ? (cp) => !inClass(cp) : inClass, end: i + 1 };
}

/** Thompson simulation: the set of items the match may be at, advanced one code point at a time. */
function run(items: Item[], value: string): boolean {
  let states = closure(items, new Set([0]));
  for (const char of value) {
    const cp = char.codePointAt(0) as number;
    const next = new Set<number>();
    for (const state of states) {
      const item = items[state];
      if (item?.test(cp)) next.add(item.repeats ? state : state + 1);
    }
    if (next.size === 0) return false;
    states = closure(items, next);
  }
  return states.has(items.length);
}

function closure(items: Item[], states: Set<number>): Set<number> {
  for (const state of states) {
    // A Set visits members added during iteration, so chains of optional items are followed.
    if (items[state]?.optional) states.add(state + 1);
  }
  return states;
}
