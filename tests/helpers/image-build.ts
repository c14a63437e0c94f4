import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import {
  type Dockerfile,
  envPairs,
  type Instruction,
  readDockerfile,
  readDockerignore,
  type Stage,
  stageArgs,
} from './dockerfile';

const run = promisify(execFile);

/**
 * Assembles, without a Docker engine, the files deploy/Dockerfile's final stage would contain,
 * by executing its stages here: every COPY of the final stage is honoured (from the build
 * context through .dockerignore, or from an earlier stage), and the earlier stages' COPY and RUN
 * instructions are carried out in their own directories. So a file the Dockerfile forgets to
 * copy, or one .dockerignore keeps out, is missing here too.
 *
 * Two substitutions, both because the machine has no engine and no internet beyond npm:
 * - `npm ci` runs with `--prefer-offline` (the local npm cache; same lockfile, same result);
 * - a stage that installs *all* dependencies (the dashboard build) gets the repository's own
 *   node_modules linked in instead of a second full dev install (workspace packages are linked
 *   to the stage's own copies, so a missing workspace COPY still fails).
 * RUN instructions of the final stage (creating its user) are checked, not executed.
 */
export interface AssembledImage {
  dockerfile: Dockerfile;
  /** The final stage's WORKDIR as a directory here. */
  appDir: string;
  /** ENV of the final stage. */
  env: Record<string, string>;
  /** Seconds each stage took, for the test's log. */
  timings: Record<string, number>;
}

export async function assembleImage(options: {
  root: string;
  dockerfile: string;
  workDir: string;
}): Promise<AssembledImage> {
  const { root, workDir } = options;
  const dockerfile = readDockerfile(options.dockerfile);
  const excluded = readDockerignore(join(root, '.dockerignore'));
  const stageDirs = new Map<string, string>();
  const timings: Record<string, number> = {};
  const final = dockerfile.stages.at(-1)!;
  let env: Record<string, string> = {};

  for (const [index, stage] of dockerfile.stages.entries()) {
    const started = Date.now();
    const dir = join(workDir, stage.name ?? `stage-${index}`);
    mkdirSync(dir, { recursive: true });
    const isFinal = stage === final;
    for (const instruction of stage.instructions) {
      if (instruction.keyword === 'COPY') copy(instruction, { root, dir, excluded, stageDirs });
      else if (instruction.keyword === 'RUN' && !isFinal) await runStep(instruction, { root, dir });
      else if (instruction.keyword === 'ENV' && isFinal)
        env = { ...env, ...envPairs(instruction.rest, stageArgs(stage)) };
    }
    if (stage.name) stageDirs.set(stage.name, dir);
    timings[stage.name ?? `stage-${index}`] = (Date.now() - started) / 1000;
  }
  return {
    dockerfile,
    appDir: stageDirs.get(final.name ?? '') ?? join(workDir, `stage-${dockerfile.stages.length - 1}`),
    env,
    timings,
  };
}

/** The stage named `name`; throws when the Dockerfile has none. */
export function stageNamed(dockerfile: Dockerfile, name: string): Stage {
  const stage = dockerfile.stages.find((s) => s.name === name);
  if (!stage) throw new Error(`deploy/Dockerfile has no stage named ${name}`);
  return stage;
}

function copy(
  instruction: Instruction,
  context: { root: string; dir: string; excluded: (path: string) => boolean; stageDirs: Map<string, string> },
): void {
  const parts = instruction.rest.split(/\s+/);
  const destination = parts.pop()!;
  const from = instruction.flags.from;
  const sourceRoot = from ? context.stageDirs.get(from) : context.root;
  if (!sourceRoot) throw new Error(`line ${instruction.line}: COPY --from=${from} names no earlier stage`);
  for (const source of parts) {
    // Paths in an earlier stage are absolute under its WORKDIR (/app here); context paths are relative.
    const relativeSource = from ? relative('/app', source) : source;
    const sourcePath = join(sourceRoot, relativeSource);
    if (!existsSync(sourcePath))
      throw new Error(`line ${instruction.line}: COPY source ${source} does not exist`);
    // `COPY a b ./` puts files into the folder; `COPY dir ./dir` copies the folder's contents there.
    const target =
      destination.endsWith('/') && parts.length > 0 && !isDirectory(sourcePath)
        ? join(context.dir, destination, relativeSource.split('/').pop()!)
        : join(context.dir, destination);
    mkdirSync(dirname(target), { recursive: true });
    if (from) {
      // Stage output (node_modules: 90 MB) is moved, not copied; symlinks inside stay as they are.
      renameSync(sourcePath, target);
    } else {
      cpSync(sourcePath, target, {
        recursive: true,
        filter: (path) => {
          const inContext = relative(context.root, path);
          return inContext === '' || !context.excluded(inContext);
        },
      });
    }
  }
}

function isDirectory(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}

async function runStep(instruction: Instruction, context: { root: string; dir: string }): Promise<void> {
  const command = instruction.rest;
  if (/^npm ci\b/.test(command) && !/--omit=dev/.test(command)) {
    linkDevDependencies(context.root, context.dir);
    return;
  }
  const shell = /^npm ci\b/.test(command) ? `${command} --prefer-offline --ignore-scripts=false` : command;
  try {
    await run('sh', ['-c', shell], { cwd: context.dir, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `line ${instruction.line}: RUN ${shell} failed\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`,
    );
  }
}

/** node_modules of the repository, entry by entry, with workspace packages pointing at the stage's copies. */
function linkDevDependencies(root: string, dir: string): void {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces?: string[] };
  const workspaces = new Map<string, string>();
  for (const folder of manifest.workspaces ?? []) {
    const { name } = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) as { name: string };
    workspaces.set(name, folder);
  }
  const modules = join(dir, 'node_modules');
  const link = (name: string) => {
    const folder = workspaces.get(name);
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(folder ? join(dir, folder) : join(root, 'node_modules', name), join(modules, name));
  };
  for (const entry of readdirSync(join(root, 'node_modules'))) {
    if (!entry.startsWith('@')) link(entry);
    else for (const scoped of readdirSync(join(root, 'node_modules', entry))) link(`${entry}/${scoped}`);
  }
}
