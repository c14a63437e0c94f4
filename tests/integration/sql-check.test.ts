// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the fixtures are TypeScript source held as text, their ${} meant for the checker
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSql, findSourceFiles, type SqlFinding } from '../../scripts/check-sql';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SCRIPT = join(REPO, 'scripts/check-sql.ts');

const PRELUDE = `import { sql } from 'kysely';
declare const db: any, client: any, pool: any, name: string, id: number;
`;
/** Prelude lines, so a fixture's first line of its own is line 3. */
const FIRST_LINE = 3;

/** One forbidden pattern per file, with the rule it must be reported under. */
const FORBIDDEN: Record<string, { code: string; rule: SqlFinding['rule'] }> = {
  'raw-literal.ts': { code: `sql.raw('select 1');`, rule: 'raw-sql' },
  'raw-variable.ts': { code: 'const fragment = sql.raw(name);', rule: 'raw-sql' },
  'raw-aliased.ts': {
    code: `import { sql as q } from 'kysely';\nq.raw(name);`,
    rule: 'raw-sql',
  },
  'compiled-raw.ts': {
    code: `import { CompiledQuery } from 'kysely';\nCompiledQuery.raw(\`select \${id}\`);`,
    rule: 'raw-sql',
  },
  'id.ts': { code: 'sql`select ${sql.id(name)} from users`;', rule: 'dynamic-identifier' },
  'ref.ts': { code: 'sql.ref(`users.${name}`);', rule: 'dynamic-identifier' },
  'table.ts': { code: `sql.table('public', name);`, rule: 'dynamic-identifier' },
  'lit.ts': { code: 'sql.lit(id);', rule: 'dynamic-identifier' },
  'unsafe.ts': { code: `db.unsafe('select 1');`, rule: 'unsafe-call' },
  'db-template.ts': {
    code: 'await db.query(`select * from users where id = ${id}`);',
    rule: 'string-built-sql',
  },
  'client-concat.ts': {
    code: `await client.query("select * from users where name = '" + name + "'");`,
    rule: 'string-built-sql',
  },
  'pool-config.ts': {
    code: 'await pool.query({ text: `select ${id}`, values: [] });',
    rule: 'string-built-sql',
  },
  'via-variable.ts': {
    code: 'const text = `delete from users where id = ${id}`;\nawait this.pool.query(text);',
    rule: 'string-built-sql',
  },
  'sql-called.ts': { code: 'sql(`select ${id}`);', rule: 'string-built-sql' },
  'multi-line.ts': {
    code: 'await db.query(\n  `select *\n   from users\n   where id = ${id}`,\n);',
    rule: 'string-built-sql',
  },
  'allow-without-reason.ts': {
    code: '// sql-check: allow\nawait db.query(`select ${id}`);',
    rule: 'string-built-sql',
  },
  'script.js': {
    code: `export const remove = (db, id) => db.query('delete from t where id = ' + id);`,
    rule: 'string-built-sql',
  },
};

/** Everything here is parameterised, fixed in the source, or vetted with a reason. */
const SAFE = `${PRELUDE}sql\`select * from users where id = \${id} and name = \${name}\`;
sql\`select \${sql.id('users', 'email')} from \${sql.table('users')}\`;
sql.ref('users.email');
sql.lit(42);
sql.lit(-1);
sql.lit('active');
sql.val(name);
sql.join([id, id]);
await client.query('select * from users where id = $1', [id]);
await client.query('select 1 ' + 'as one');
await pool.query({ text: 'select $1::int', values: [id] });
// sql.raw(name) and db.query(\`\${name}\`) in a comment are not calls
const documentation = 'never call sql.raw(input)';
const router = { query: (handler: () => string) => handler };
router.query(() => \`hello \${name}\`);
await db.query(\`create database "\${name}"\`); // sql-check: allow generated name, never user input
// sql-check: allow the name is one of the fixed table names above
await db.query(\`truncate \${name}\`);
`;

let fixtures: string;
/** The fixtures' findings, from one run: each run starts a TypeScript process. */
let findings: SqlFinding[];

beforeAll(async () => {
  fixtures = await mkdtemp(join(tmpdir(), 'sql-check-'));
  await mkdir(join(fixtures, 'server/forbidden'), { recursive: true });
  for (const [file, { code }] of Object.entries(FORBIDDEN)) {
    const prelude = file.endsWith('.js') ? '\n\n' : PRELUDE;
    await writeFile(join(fixtures, 'server/forbidden', file), `${prelude}${code}\n`);
  }
  await writeFile(join(fixtures, 'server/safe.ts'), SAFE);
  // Dependencies and folders outside the scanned set are not application code.
  await mkdir(join(fixtures, 'server/node_modules/dep'), { recursive: true });
  await writeFile(join(fixtures, 'server/node_modules/dep/index.ts'), 'sql.raw(input);\n');
  await mkdir(join(fixtures, 'tests'), { recursive: true });
  await writeFile(join(fixtures, 'tests/helper.ts'), 'client.query(`create database "${name}"`);\n');
  findings = checkSql(findSourceFiles(fixtures), fixtures);
});

afterAll(async () => {
  if (fixtures) await rm(fixtures, { recursive: true, force: true });
});

function runCli(root: string) {
  return spawnSync(process.execPath, ['--import', 'tsx', SCRIPT, root], { cwd: REPO, encoding: 'utf8' });
}

describe('check-sql', () => {
  it('passes the repository as it stands', () => {
    const files = findSourceFiles(REPO);
    expect(files).toContain(join(REPO, 'db/connect.ts'));
    expect(files.some((file) => file.includes('node_modules'))).toBe(false);
    expect(checkSql(files, REPO)).toEqual([]);
  });

  it('reports each forbidden pattern, once, at its line and under its rule', () => {
    const byFile = new Map<string, SqlFinding[]>();
    for (const finding of findings) {
      byFile.set(finding.file, [...(byFile.get(finding.file) ?? []), finding]);
    }
    for (const [file, { code, rule }] of Object.entries(FORBIDDEN)) {
      const reported = byFile.get(join('server/forbidden', file)) ?? [];
      expect(
        reported.map((finding) => finding.rule),
        file,
      ).toEqual([rule]);
      // The call sits on the fixture's last line of code unless the fixture spans several.
      const codeLines = code.split('\n');
      const callLine = file === 'multi-line.ts' ? 0 : codeLines.length - 1;
      expect(reported[0]?.line, file).toBe(FIRST_LINE + callLine);
    }
  });

  it('finds nothing in parameterised, literal or vetted SQL, nor outside the scanned folders', () => {
    const elsewhere = findings.filter((finding) => !finding.file.startsWith(join('server', 'forbidden')));
    expect(elsewhere).toEqual([]);
  });

  it('exits 1 listing file:line for each finding, and 0 on clean code', async () => {
    const failing = runCli(fixtures);
    expect(failing.status).toBe(1);
    expect(failing.stderr).toContain(`${join('server/forbidden', 'raw-variable.ts')}:${FIRST_LINE}:`);
    expect(failing.stderr).toContain(`${join('server/forbidden', 'db-template.ts')}:${FIRST_LINE}:`);
    expect(failing.stderr).toContain(`check-sql: ${Object.keys(FORBIDDEN).length} finding(s)`);

    const clean = await mkdtemp(join(tmpdir(), 'sql-check-clean-'));
    try {
      await mkdir(join(clean, 'db'));
      await writeFile(join(clean, 'db/query.ts'), SAFE);
      const passing = runCli(clean);
      expect(passing.stderr).toBe('');
      expect(passing.status).toBe(0);
      expect(passing.stdout).toContain('check-sql: 1 files');
    } finally {
      await rm(clean, { recursive: true, force: true });
    }
  });
});
