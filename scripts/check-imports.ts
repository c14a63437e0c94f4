/**
 * The import rule (docs/architecture.md): layers only look down. Fails (exit 1, one line per
 * finding) when a file imports from a layer above its own, when a service imports another
 * service's code (only its types: a service is handed the others it uses), or when the client
 * reaches into the server for more than the router's type.
 *
 *   node --import tsx scripts/check-imports.ts [--count]
 *
 * The layers, lowest first:
 *   shared/                   zod schemas and types shared by server and client
 *   db/                       pool, migrations, table types and repositories
 *   server/base/              what every service may use: logger, lifecycle, component contract,
 *                             metrics, audit writer, principals, change feed, secret sealing, config
 *   server/services/<name>/   one domain each
 *   server/operations/        what reads the whole platform: health, status, self-test, figures
 *   server/http/              the HTTP app: routes, tRPC routers, middleware, REST
 *   server/composition/, server/main.ts, server/edge.ts
 *                             builds everything: dependencies, serve, shutdown, the edge worker
 * Test files (`*.test.ts`) may import anything below them and their own layer's neighbours.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const LAYERS = ['shared', 'db', 'base', 'services', 'operations', 'http', 'composition'] as const;
export type Layer = (typeof LAYERS)[number];

/** The layer of a file (path relative to the repository, with `/`), or null when it has none. */
export function layerOf(file: string): Layer | null {
  if (file.startsWith('shared/')) return 'shared';
  if (file.startsWith('db/')) return 'db';
  if (file.startsWith('server/base/')) return 'base';
  if (file.startsWith('server/services/')) return 'services';
  if (file.startsWith('server/operations/')) return 'operations';
  if (file.startsWith('server/http/')) return 'http';
  if (file.startsWith('server/composition/') || file === 'server/main.ts' || file === 'server/edge.ts')
    return 'composition';
  return null;
}

/** The service a file belongs to (`server/services/<name>/…`), or null. */
function serviceOf(file: string): string | null {
  return /^server\/services\/([^/]+)\//.exec(file)?.[1] ?? null;
}

export interface Finding {
  file: string;
  line: number;
  target: string;
  why: string;
}

interface ImportOf {
  specifier: string;
  line: number;
  typeOnly: boolean;
}

// `import … from '…'`, `export … from '…'`, `import('…')`; `import type` / `export type` are
// type-only (a named `type` inside braces is not: the statement still loads the module).
const STATIC = /^[ \t]*(import|export)\s+(type\s+)?[^'"]*?from\s+['"]([^'"]+)['"]/gm;
const BARE = /^[ \t]*import\s+['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(text: string): ImportOf[] {
  const found: ImportOf[] = [];
  const lineAt = (index: number) => text.slice(0, index).split('\n').length;
  for (const match of text.matchAll(STATIC)) {
    found.push({ specifier: match[3] as string, line: lineAt(match.index), typeOnly: Boolean(match[2]) });
  }
  for (const match of text.matchAll(BARE)) {
    found.push({ specifier: match[1] as string, line: lineAt(match.index), typeOnly: false });
  }
  for (const match of text.matchAll(DYNAMIC)) {
    found.push({ specifier: match[1] as string, line: lineAt(match.index), typeOnly: false });
  }
  return found;
}

/** The findings of one file (path relative to the repository) with the given source text. */
export function findingsOf(file: string, text: string): Finding[] {
  const findings: Finding[] = [];
  const fromLayer = layerOf(file);
  const isClient = file.startsWith('client/');
  if (!fromLayer && !isClient) return findings;
  for (const { specifier, line, typeOnly } of importsOf(text)) {
    if (!specifier.startsWith('.')) continue;
    const target = sourcePath(relative(ROOT, resolve(ROOT, dirname(file), specifier)).replaceAll('\\', '/'));
    const toLayer = layerOf(target);
    if (isClient) {
      // The client is published alone: shared code, and the router's type only (erased).
      const allowed =
        toLayer === 'shared' || target.startsWith('client/') || (typeOnly && toLayer === 'http');
      if (!allowed)
        findings.push({ file, line, target, why: 'the client may import shared/ and type AppRouter only' });
      continue;
    }
    if (!fromLayer || !toLayer) continue;
    if (LAYERS.indexOf(toLayer) > LAYERS.indexOf(fromLayer)) {
      findings.push({ file, line, target, why: `${fromLayer} imports from ${toLayer}, a layer above it` });
      continue;
    }
    const fromService = serviceOf(file);
    const toService = serviceOf(target);
    if (fromService && toService && fromService !== toService && !typeOnly) {
      findings.push({
        file,
        line,
        target,
        why: `service ${fromService} imports service ${toService}'s code (types only: it is handed the service)`,
      });
    }
  }
  return findings;
}

/** The file an extensionless specifier names: `x.ts`, else `x/index.ts`. */
function sourcePath(target: string): string {
  if (/\.[a-z]+$/.test(target)) return target;
  return existsSync(join(ROOT, `${target}.ts`)) ? `${target}.ts` : `${target}/index.ts`;
}

function sourceFiles(directory: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, directory), { withFileTypes: true })) {
    const path = `${directory}/${entry.name}`;
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules' && entry.name !== 'dist') files.push(...sourceFiles(path));
    } else if (/\.tsx?$/.test(entry.name)) {
      files.push(path);
    }
  }
  return files;
}

export function check(): Finding[] {
  return ['shared', 'db', 'server', 'client'].flatMap((directory) =>
    sourceFiles(directory).flatMap((file) => findingsOf(file, readFileSync(join(ROOT, file), 'utf8'))),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const findings = check();
  for (const f of findings) console.log(`${f.file}:${f.line}: ${f.why} (${f.target})`);
  console.log(`${findings.length} import${findings.length === 1 ? '' : 's'} against the layers`);
  process.exit(findings.length > 0 && !process.argv.includes('--count') ? 1 : 0);
}
