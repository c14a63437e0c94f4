/**
 * The divisors of a PromQL expression that are rates (`rate`, `irate`, `increase`) without a
 * `> 0` guard. Over a quiet window such a division is 0/0 and answers NaN; divided by
 * `(<rate> > 0)` it answers no series, which dashboards show as "no data" and alerts ignore.
 * Read just enough PromQL for the shipped files: string literals are blanked first (routes hold
 * slashes), then each `/` takes the operand after it, a parenthesised group or a term up to the
 * next operator at its own depth.
 */
export function unguardedRateDivisors(expr: string): string[] {
  const text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const found: string[] = [];
  for (let i = text.indexOf('/'); i >= 0; i = text.indexOf('/', i + 1)) {
    const divisor = operandAt(text, i + 1);
    if (/\b(?:rate|irate|increase)\s*\(/.test(divisor) && !guarded(divisor)) found.push(divisor);
  }
  return found;
}

function operandAt(text: string, start: number): string {
  let from = start;
  while (/\s/.test(text[from] ?? '')) from++;
  let depth = 0;
  let to = from;
  for (; to < text.length; to++) {
    const c = text[to] as string;
    if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) break;
      depth--;
      // A divisor that opens with a parenthesis is that group alone.
      if (depth === 0 && text[from] === '(') return text.slice(from, to + 1);
    } else if (
      depth === 0 &&
      (/[+\-*/%^<>=!]/.test(c) || /^\s(?:and|or|unless)\s/.test(text.slice(to, to + 8)))
    )
      break;
  }
  return text.slice(from, to).trim();
}

/** `( … > 0 )`: a group whose last operation, at its own depth, is the comparison with 0. */
function guarded(divisor: string): boolean {
  if (!divisor.startsWith('(') || !divisor.endsWith(')')) return false;
  const inner = divisor.slice(1, -1);
  const comparison = /(?<![<>=!])>\s*0\s*$/.exec(inner);
  if (!comparison) return false;
  let depth = 0;
  for (const c of inner.slice(0, comparison.index)) depth += c === '(' ? 1 : c === ')' ? -1 : 0;
  return depth === 0;
}
