/**
 * Static check that SQL reaches PostgreSQL only as a parameterised query: fails (exit 1, one
 * `file:line:column` per finding) on raw SQL, on identifiers or literals spliced in from runtime
 * values, and on SQL text built by string interpolation or concatenation.
 *
 *   node --import tsx scripts/check-sql.ts [root]
 *
 * A line a reviewer has vetted may end in `// sql-check: allow <reason>`, or have that comment
 * alone on the line above; the reason is required.
 *
 * Parsing uses TypeScript 7's API (`typescript/unstable/*`), which runs the native compiler in a
 * child process: a real parser, so comments and strings that merely mention `sql.raw(` are not
 * findings, and a call split over lines still is.
 */
import { type Dirent, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Expression, type Node, type SourceFile, SyntaxKind } from 'typescript/unstable/ast';
import {
  isBinaryExpression,
  isCallExpression,
  isElementAccessExpression,
  isIdentifier,
  isImportDeclaration,
  isNoSubstitutionTemplateLiteral,
  isObjectLiteralExpression,
  isPropertyAccessExpression,
  isPropertyAssignment,
  isStringLiteral,
  isTemplateExpression,
  isVariableDeclaration,
} from 'typescript/unstable/ast/is';
import { API } from 'typescript/unstable/sync';

/** Folders of application code; tests build throwaway databases by name and are not scanned. */
export const SCANNED_DIRECTORIES = ['server', 'db', 'scripts', 'shared', 'client'] as const;
const SOURCE_FILE = /\.(?:[cm]?ts|tsx|[cm]?js)$/;
const SKIPPED_FOLDERS = new Set(['node_modules', 'dist', 'build', 'coverage']);

export type SqlRule = 'raw-sql' | 'dynamic-identifier' | 'unsafe-call' | 'string-built-sql';

export interface SqlFinding {
  file: string;
  /** 1-based, as editors count. */
  line: number;
  column: number;
  rule: SqlRule;
  message: string;
}

/** Kysely helpers that splice their argument into the SQL text instead of binding it. */
const SPLICING_HELPERS = new Set(['id', 'ref', 'table', 'lit']);
const ALLOW_COMMENT = /\/\/\s*sql-check:\s*allow\b(.*)$/;

/** The TypeScript and JavaScript files under `directories` of `root`, skipping dependencies. */
export function findSourceFiles(
  root: string,
  directories: readonly string[] = SCANNED_DIRECTORIES,
): string[] {
  const files: string[] = [];
  const visit = (directory: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(directory, { withFileTypes: true });
    } catch {
      return; // A folder this checkout does not have.
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || SKIPPED_FOLDERS.has(entry.name)) continue;
      const path = join(directory, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.isFile() && SOURCE_FILE.test(entry.name) && !entry.name.endsWith('.d.ts'))
        files.push(path);
    }
  };
  for (const directory of directories) visit(resolve(root, directory));
  return files.sort();
}

/**
 * Parses `files` (absolute paths) and returns every finding not allowed by a comment.
 * Throws when a file cannot be parsed: a check that silently skips a file passes nothing.
 */
export function checkSql(files: readonly string[], cwd: string): SqlFinding[] {
  if (files.length === 0) return [];
  const api = new API({ cwd });
  try {
    const snapshot = api.updateSnapshot({ openFiles: [...files] });
    const findings: SqlFinding[] = [];
    for (const file of files) {
      const source = snapshot.getDefaultProjectForFile(file)?.program.getSourceFile(file);
      if (!source) throw new Error(`check-sql: TypeScript could not parse ${file}`);
      findings.push(...checkSourceFile(source, relative(cwd, file)));
    }
    return findings;
  } finally {
    api.close();
  }
}

/** The findings of one parsed file, `file` being the name to report it under. */
export function checkSourceFile(source: SourceFile, file: string): SqlFinding[] {
  const sqlNames = kyselySqlNames(source);
  const builtStrings = stringBuiltVariables(source);
  const lines = source.text.split('\n');
  const findings: SqlFinding[] = [];

  const report = (node: Node, rule: SqlRule, message: string) => {
    const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source));
    if (isAllowed(lines, line)) return;
    findings.push({ file, line: line + 1, column: character + 1, rule, message });
  };

  const visit = (node: Node): void => {
    if (isCallExpression(node)) {
      const callee = unwrap(node.expression);
      const method = methodName(callee);
      const receiver = receiverName(callee);
      const [first] = node.arguments;

      if (method === 'raw' && receiver !== undefined && sqlNames.has(receiver)) {
        report(
          node,
          'raw-sql',
          `${receiver}.raw() puts text into SQL unescaped; use the sql tag with \${} parameters`,
        );
      } else if (method === 'raw' && receiver === 'CompiledQuery' && first && !isLiteral(first)) {
        report(node, 'raw-sql', 'CompiledQuery.raw() with SQL text that is not a literal');
      } else if (
        method !== undefined &&
        SPLICING_HELPERS.has(method) &&
        receiver !== undefined &&
        sqlNames.has(receiver) &&
        node.arguments.some((argument) => !isLiteral(argument))
      ) {
        report(
          node,
          'dynamic-identifier',
          `${receiver}.${method}() with a runtime value splices it into SQL; pick from a fixed list of literals`,
        );
      } else if (method === 'unsafe') {
        report(node, 'unsafe-call', '.unsafe() runs SQL text as given');
      } else if (
        first &&
        ((method === 'query' && receiver !== undefined) ||
          (isIdentifier(callee) && sqlNames.has(callee.text))) &&
        (isStringBuilt(first, builtStrings) || isQueryConfigWithBuiltText(first, builtStrings))
      ) {
        report(
          node,
          'string-built-sql',
          'SQL text built from runtime values; use the sql tag or pass the values as query parameters',
        );
      }
    }
    node.forEachChild(visit);
  };
  visit(source);
  return findings;
}

/** Local names `sql` is imported under from kysely, plus `sql` itself (a re-export elsewhere). */
function kyselySqlNames(source: SourceFile): Set<string> {
  const names = new Set(['sql']);
  for (const statement of source.statements) {
    if (!isImportDeclaration(statement) || !isStringLiteral(statement.moduleSpecifier)) continue;
    if (statement.moduleSpecifier.text !== 'kysely') continue;
    const bindings = statement.importClause?.namedBindings;
    if (!bindings || bindings.kind !== SyntaxKind.NamedImports) continue;
    for (const element of bindings.elements) {
      const imported = element.propertyName ?? element.name;
      if (isIdentifier(imported) && imported.text === 'sql') names.add(element.name.text);
    }
  }
  return names;
}

/**
 * Names declared anywhere in the file with a string-built initializer, so that
 * `const text = \`... ${x}\`; client.query(text)` is caught as surely as the inline form.
 * By name, not by scope: a shadowing name is a false alarm at worst, for the allow comment.
 */
function stringBuiltVariables(source: SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: Node): void => {
    if (isVariableDeclaration(node) && isIdentifier(node.name) && node.initializer) {
      if (isStringBuilt(node.initializer, names)) names.add(node.name.text);
    }
    node.forEachChild(visit);
  };
  visit(source);
  return names;
}

/**
 * A template literal with `${}`, a `+` with any part not fixed in the source, or a name bound to
 * either. A `+` is judged without asking whether it adds strings: as an argument where SQL text
 * goes, it can only be concatenation.
 */
function isStringBuilt(expression: Expression, builtStrings: ReadonlySet<string>): boolean {
  const node = unwrap(expression);
  if (isTemplateExpression(node)) return true;
  if (isIdentifier(node)) return builtStrings.has(node.text);
  if (isBinaryExpression(node) && node.operatorToken.kind === SyntaxKind.PlusToken) return !isLiteral(node);
  return false;
}

/** pg's `client.query({ text, values })` form. */
function isQueryConfigWithBuiltText(expression: Expression, builtStrings: ReadonlySet<string>): boolean {
  const node = unwrap(expression);
  if (!isObjectLiteralExpression(node)) return false;
  return node.properties.some(
    (property) =>
      isPropertyAssignment(property) &&
      isIdentifier(property.name) &&
      property.name.text === 'text' &&
      isStringBuilt(property.initializer, builtStrings),
  );
}

/** A value fixed in the source: it cannot carry anything a caller sent. */
function isLiteral(expression: Expression): boolean {
  const node = unwrap(expression);
  switch (node.kind) {
    case SyntaxKind.StringLiteral:
    case SyntaxKind.NoSubstitutionTemplateLiteral:
    case SyntaxKind.NumericLiteral:
    case SyntaxKind.BigIntLiteral:
    case SyntaxKind.TrueKeyword:
    case SyntaxKind.FalseKeyword:
    case SyntaxKind.NullKeyword:
      return true;
    case SyntaxKind.PrefixUnaryExpression:
      return node.forEachChild((child) => isLiteral(child as Expression)) === true;
    case SyntaxKind.BinaryExpression:
      return (
        isBinaryExpression(node) &&
        node.operatorToken.kind === SyntaxKind.PlusToken &&
        isLiteral(node.left) &&
        isLiteral(node.right)
      );
    default:
      return false;
  }
}

/** The expression inside parentheses, `as`, `satisfies` and `!`, which change nothing at run time. */
function unwrap(expression: Expression): Expression {
  let node: Node = expression;
  while (
    node.kind === SyntaxKind.ParenthesizedExpression ||
    node.kind === SyntaxKind.AsExpression ||
    node.kind === SyntaxKind.SatisfiesExpression ||
    node.kind === SyntaxKind.NonNullExpression ||
    node.kind === SyntaxKind.TypeAssertionExpression
  ) {
    node = (node as Node & { expression: Expression }).expression;
  }
  return node as Expression;
}

/** `raw` in `sql.raw`, `sql?.raw` or `sql['raw']`. */
function methodName(callee: Expression): string | undefined {
  if (isPropertyAccessExpression(callee) && isIdentifier(callee.name)) return callee.name.text;
  if (isElementAccessExpression(callee)) {
    const argument = unwrap(callee.argumentExpression);
    if (isStringLiteral(argument) || isNoSubstitutionTemplateLiteral(argument)) return argument.text;
  }
  return undefined;
}

/** `sql` in `sql.raw`, `pool` in `this.pool.query`; `?` for a receiver without a plain name. */
function receiverName(callee: Expression): string | undefined {
  if (!isPropertyAccessExpression(callee) && !isElementAccessExpression(callee)) return undefined;
  const receiver = unwrap(callee.expression);
  if (isIdentifier(receiver)) return receiver.text;
  if (isPropertyAccessExpression(receiver) && isIdentifier(receiver.name)) return receiver.name.text;
  return '?';
}

/** An allow comment with a reason at the end of the line, or alone on the line above. */
function isAllowed(lines: readonly string[], line: number): boolean {
  const above = lines[line - 1];
  const candidates = [lines[line], above?.trimStart().startsWith('//') ? above : undefined];
  return candidates.some((candidate) => {
    const reason = candidate === undefined ? undefined : ALLOW_COMMENT.exec(candidate)?.[1]?.trim();
    return Boolean(reason);
  });
}

export function formatFinding(finding: SqlFinding): string {
  return `${finding.file}:${finding.line}:${finding.column} [${finding.rule}] ${finding.message}`;
}

function main(): void {
  const root = resolve(process.argv[2] ?? process.cwd());
  const files = findSourceFiles(root);
  const findings = checkSql(files, root);
  if (findings.length === 0) {
    console.log(`check-sql: ${files.length} files, no string-built or raw SQL`);
    return;
  }
  for (const finding of findings) console.error(formatFinding(finding));
  console.error(
    `check-sql: ${findings.length} finding(s); parameterise through Kysely, or mark a vetted line with // sql-check: allow <reason>`,
  );
  process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
