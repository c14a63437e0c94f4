/**
 * Builds the publishable package into client/dist: `npm run build -w client` (or `npm run
 * build:client` at the root), then `npm pack ./client/dist` or `npm publish ./client/dist`.
 *
 * - index.js: the client bundled by esbuild as one ES module; `@trpc/client` and `@trpc/server`
 *   stay imports (peer dependencies: the application's tRPC is the client's, so `instanceof
 *   TRPCClientError` and links keep working across both);
 * - *.d.ts: the client's declarations, relative imports ending in `.js` (node16/nodenext);
 * - app-router.d.ts: the server's router as a self-contained type (router-declaration.ts), so
 *   a consumer's compiler never reads, nor needs, the server's sources;
 * - package.json: the published manifest, derived from client/package.json (which stays the
 *   workspace's manifest: it points the monorepo at the sources);
 * - README.md.
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { routerDeclaration } from './router-declaration';
import { createProgram, describeDiagnostics, ts } from './typescript-program';

const CLIENT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = dirname(CLIENT_DIR);
const ROUTER_FILE = join(REPO_ROOT, 'server', 'http', 'routers', 'index.ts');
/** The module the client's types.ts imports AppRouter from, and what it becomes in the package. */
const ROUTER_MODULE = join(REPO_ROOT, 'server', 'http', 'routers');
const ROUTER_DECLARATION = 'app-router';
/** Runtime dependencies left as imports: the package's peers. */
const PEERS = ['@trpc/client', '@trpc/server'];

export interface BuildResult {
  outDir: string;
  files: string[];
}

export async function buildClientPackage(outDir = join(CLIENT_DIR, 'dist')): Promise<BuildResult> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const sources = (await readdir(CLIENT_DIR))
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts'))
    .map((name) => join(CLIENT_DIR, name));

  await bundle(outDir);
  const program = createProgram(join(REPO_ROOT, 'tsconfig.json'), [join(CLIENT_DIR, 'index.ts')]);
  const errors = sources.flatMap((file) => {
    const source = program.getSourceFile(file);
    return source
      ? [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]
      : [];
  });
  if (errors.length)
    throw new Error(`the client does not type-check:\n${describeDiagnostics(errors).join('\n')}`);
  await emitDeclarations(program, sources, outDir);
  await writeFile(
    join(outDir, `${ROUTER_DECLARATION}.d.ts`),
    routerDeclaration(program, ROUTER_FILE, 'AppRouter'),
  );
  await writeManifest(outDir);
  await copyFile(join(CLIENT_DIR, 'README.md'), join(outDir, 'README.md'));
  const files = (await readdir(outDir)).sort();
  await verify(outDir, files);
  return { outDir, files };
}

async function bundle(outDir: string): Promise<void> {
  const result = await build({
    entryPoints: [join(CLIENT_DIR, 'index.ts')],
    outfile: join(outDir, 'index.js'),
    bundle: true,
    format: 'esm',
    // Neither Node nor browser: the client uses fetch, AbortController and timers, which Node,
    // Bun, Deno, workers and browsers all have.
    platform: 'neutral',
    target: 'es2022',
    packages: 'external',
    metafile: true,
    logLevel: 'warning',
  });
  const imports = Object.values(result.metafile.outputs).flatMap((output) =>
    output.imports.map((i) => i.path),
  );
  const foreign = imports.filter(
    (path) => !PEERS.some((peer) => path === peer || path.startsWith(`${peer}/`)),
  );
  if (foreign.length) throw new Error(`index.js imports more than its peers: ${foreign.join(', ')}`);
}

/**
 * Declarations of the client's sources, with their module specifiers made right for a published
 * ES module: `./errors` becomes `./errors.js` (node16 and nodenext resolve nothing else), and
 * the server's router module becomes the generated app-router.d.ts.
 */
async function emitDeclarations(program: ts.Program, sources: string[], outDir: string): Promise<void> {
  const written: Promise<void>[] = [];
  for (const file of sources) {
    const source = program.getSourceFile(file);
    if (!source) throw new Error(`${file} is not in the program`);
    const result = program.emit(
      source,
      (fileName, text) => {
        if (!fileName.endsWith('.d.ts')) return;
        const name = `${basename(file, '.ts')}.d.ts`;
        written.push(writeFile(join(outDir, name), rewriteSpecifiers(text, file)));
      },
      undefined,
      true,
    );
    if (result.diagnostics.length) {
      throw new Error(`declaration emit failed:\n${describeDiagnostics(result.diagnostics).join('\n')}`);
    }
  }
  await Promise.all(written);
}

function rewriteSpecifiers(text: string, sourceFile: string): string {
  const declaration = ts.createSourceFile('x.d.ts', text, ts.ScriptTarget.Latest, true);
  const edits: { start: number; end: number; text: string }[] = [];
  const visit = (node: ts.Node) => {
    let literal: ts.StringLiteral | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) literal = node.moduleSpecifier;
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      if (ts.isStringLiteral(node.argument.literal)) literal = node.argument.literal;
    }
    if (literal) {
      const target = packageSpecifier(literal.text, sourceFile);
      edits.push({ start: literal.getStart(declaration) + 1, end: literal.getEnd() - 1, text: target });
    }
    ts.forEachChild(node, visit);
  };
  visit(declaration);
  let out = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  return out;
}

function packageSpecifier(specifier: string, sourceFile: string): string {
  if (!specifier.startsWith('.')) {
    if (PEERS.some((peer) => specifier === peer || specifier.startsWith(`${peer}/`))) return specifier;
    throw new Error(`${relative(REPO_ROOT, sourceFile)}: its declarations import ${specifier}, not a peer`);
  }
  const target = resolve(dirname(sourceFile), specifier).replace(/\.(ts|js)$/, '');
  if (target === ROUTER_MODULE || target === join(ROUTER_MODULE, 'index'))
    return `./${ROUTER_DECLARATION}.js`;
  if (dirname(target) === CLIENT_DIR) return `./${basename(target)}.js`;
  throw new Error(
    `${relative(REPO_ROOT, sourceFile)}: its declarations reach ${specifier}, outside the client`,
  );
}

async function writeManifest(outDir: string): Promise<void> {
  const workspace = JSON.parse(await readFile(join(CLIENT_DIR, 'package.json'), 'utf8'));
  const manifest = {
    name: workspace.name,
    version: workspace.version,
    description: workspace.description,
    license: workspace.license,
    keywords: workspace.keywords,
    type: 'module',
    sideEffects: false,
    exports: {
      '.': { types: './index.d.ts', import: './index.js', default: './index.js' },
      './package.json': './package.json',
    },
    main: './index.js',
    types: './index.d.ts',
    files: ['*.js', '*.d.ts', 'README.md'],
    engines: workspace.engines,
    peerDependencies: workspace.peerDependencies,
  };
  await writeFile(join(outDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Every import of every declaration is a peer or a file of the package: nothing else resolves. */
async function verify(outDir: string, files: string[]): Promise<void> {
  for (const name of files.filter((file) => file.endsWith('.d.ts') || file.endsWith('.js'))) {
    const text = await readFile(join(outDir, name), 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from\s*|import\(\s*)['"]([^'"]+)['"]/g)) {
      if (!specifier) continue;
      const ok = specifier.startsWith('./')
        ? files.includes(specifier.slice(2).replace(/\.js$/, name.endsWith('.d.ts') ? '.d.ts' : '.js'))
        : PEERS.some((peer) => specifier === peer || specifier.startsWith(`${peer}/`));
      if (!ok) throw new Error(`dist/${name} imports ${specifier}, which the package cannot resolve`);
    }
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const { outDir, files } = await buildClientPackage(process.argv[2] ? resolve(process.argv[2]) : undefined);
  console.log(
    `built ${relative(process.cwd(), outDir) || '.'} in ${Date.now() - started} ms: ${files.join(', ')}`,
  );
}
