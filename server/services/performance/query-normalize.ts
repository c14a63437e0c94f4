import { createHash } from 'node:crypto';

/** A statement's shape: its text with values removed, a short stable name for it, and its kind. */
export interface SqlShape {
  /** Whitespace collapsed, comments dropped, every value (`$n`, literal) as `?`, lists as one element. */
  text: string;
  /** 16 hex digits naming `text`; the same text always gets the same fingerprint. */
  fingerprint: string;
  /** The leading keyword, lowercased (`select`, `insert`, `with`, `begin`, `create`…), or `''`. */
  operation: string;
}

/** The shape of `sqlText`, as `normalizeSql` and `fingerprintOf` give it. */
export function sqlShape(sqlText: string): SqlShape {
  const text = normalizeSql(sqlText);
  return { text, fingerprint: fingerprintOf(text), operation: leadingKeyword(text) };
}

/** A short stable hash of a normalised text: what callers name a shape by. */
export function fingerprintOf(normalized: string): string {
  return createHash('sha256').update(normalized).digest('hex').slice(0, 16);
}

const IDENTIFIER_START = /[A-Za-z_\u0080-\uffff]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;
/** Prefixes of string constants: E'…' (backslash escapes), B'…', X'…', N'…'. */
const STRING_PREFIX = /^[eEbBxXnN]$/;

/**
 * Reduces SQL text to its shape, so that one statement run with different values is counted
 * once. Kysely already sends values as `$n` parameters; `sql` templates, `sql.lit` and DDL may
 * still inline literals, which become `?` like the parameters. Quoted identifiers are kept.
 * A scanner rather than regular expressions alone, so that a digit inside `"t1"` or a quote
 * inside a dollar-quoted body is never mistaken for a value.
 */
export function normalizeSql(sqlText: string): string {
  let out = '';
  let i = 0;
  const n = sqlText.length;
  const space = () => {
    if (out.length > 0 && !out.endsWith(' ')) out += ' ';
  };
  while (i < n) {
    const c = sqlText[i] as string;
    const next = sqlText[i + 1];
    const previous = i > 0 ? (sqlText[i - 1] as string) : '';
    const afterIdentifier = IDENTIFIER_PART.test(previous);
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r' || c === '\f') {
      space();
      i++;
    } else if (c === '-' && next === '-') {
      const end = sqlText.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
      space();
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(sqlText, i);
      space();
    } else if (c === "'") {
      i = skipQuoted(sqlText, i, "'", false);
      out += '?';
    } else if (STRING_PREFIX.test(c) && next === "'" && !afterIdentifier) {
      i = skipQuoted(sqlText, i + 1, "'", c === 'e' || c === 'E');
      out += '?';
    } else if (c === '"') {
      const end = skipQuoted(sqlText, i, '"', false);
      out += sqlText.slice(i, end);
      i = end;
    } else if (c === '$' && !afterIdentifier && next !== undefined && DIGIT.test(next)) {
      i++;
      while (i < n && DIGIT.test(sqlText[i] as string)) i++;
      out += '?';
    } else if (c === '$' && !afterIdentifier && dollarTag(sqlText, i) !== null) {
      const tag = dollarTag(sqlText, i) as string;
      const end = sqlText.indexOf(tag, i + tag.length);
      i = end === -1 ? n : end + tag.length;
      out += '?';
    } else if (!afterIdentifier && (DIGIT.test(c) || (c === '.' && next !== undefined && DIGIT.test(next)))) {
      i = skipNumber(sqlText, i);
      out += '?';
    } else if (IDENTIFIER_START.test(c)) {
      const start = i;
      while (i < n && IDENTIFIER_PART.test(sqlText[i] as string)) i++;
      out += sqlText.slice(start, i);
    } else {
      out += c;
      i++;
    }
  }
  return collapseLists(out.trimEnd());
}

/**
 * `in (?, ?, ?)` becomes `in (?)`, and `values (?, ?), (?, ?)` becomes `values (?, ?)`: a list's
 * length is a value too. Only rows identical after normalisation are merged.
 */
function collapseLists(text: string): string {
  return text
    .replace(/\bin ?\( ?\?(?: ?, ?\?)+ ?\)/gi, (match) => `${match.slice(0, 2)} (?)`)
    .replace(/\b(values ?)(\((?:[^()]|\([^()]*\))*\))(?: ?, ?\2)+/gi, '$1$2');
}

/** `/* … *\/` comments nest in PostgreSQL; returns the index after the comment. */
function skipBlockComment(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    if (text[i] === '/' && text[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (text[i] === '*' && text[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return i;
}

/** A quoted run starting at `start` (the opening quote); a doubled quote is an escaped one. */
function skipQuoted(text: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
    } else if (c === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return i;
}

/** `$$` or `$tag$` at `start`, or null. */
function dollarTag(text: string, start: number): string | null {
  const match = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/.exec(text.slice(start, start + 66));
  return match ? match[0] : null;
}

/** Digits, a fraction, an exponent, hex/octal/binary prefixes and `_` separators (PostgreSQL 16). */
function skipNumber(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    const c = text[i] as string;
    if (/[0-9A-Za-z_.]/.test(c)) {
      i++;
    } else if (
      (c === '+' || c === '-') &&
      /[eE]/.test(text[i - 1] as string) &&
      !/^0[xX]/.test(text.slice(start, i))
    ) {
      i++;
    } else {
      break;
    }
  }
  return i;
}

function leadingKeyword(normalized: string): string {
  return /^[\s(]*([A-Za-z]+)/.exec(normalized)?.[1]?.toLowerCase() ?? '';
}
