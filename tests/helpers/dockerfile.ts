import { readFileSync } from 'node:fs';

/**
 * A Dockerfile read the way BuildKit reads it, for tests that check what an image would contain
 * and run without a Docker engine: line continuations joined, comments dropped, global ARG
 * defaults substituted into FROM, one entry per stage.
 */

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Everything after the keyword, continuations joined. */
  args: string;
  /** `--name=value` flags at the start of args (COPY --from, RUN --mount, HEALTHCHECK --interval). */
  flags: Record<string, string>;
  /** args without the flags. */
  rest: string;
  line: number;
}

export interface Stage {
  name: string | null;
  /** The base image after substituting global ARG defaults. */
  image: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Instructions before the first FROM (global ARGs). */
  globals: Instruction[];
  stages: Stage[];
}

export function readDockerfile(path: string): Dockerfile {
  return parseDockerfile(readFileSync(path, 'utf8'));
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    // Comment lines inside a continued instruction are skipped, as BuildKit does.
    if (pending !== '' && line.trimStart().startsWith('#')) return;
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    pending += line;
    instructions.push(toInstruction(pending.trim(), start));
    pending = '';
  });
  if (pending !== '') instructions.push(toInstruction(pending.trim(), start));

  const globals: Instruction[] = [];
  const stages: Stage[] = [];
  const args = new Map<string, string>();
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.rest.split(/\s+/);
      stages.push({
        name: as?.toUpperCase() === 'AS' ? (name ?? null) : null,
        image: substitute(image, args),
        instructions: [],
      });
    } else if (stages.length === 0) {
      globals.push(instruction);
      if (instruction.keyword === 'ARG') {
        const [key, value = ''] = splitOnce(instruction.rest, '=');
        args.set(key, value);
      }
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globals, stages };
}

/** The arguments of an exec-form (JSON array) instruction such as CMD ["bun", "server/main.ts"]. */
export function execForm(rest: string): string[] {
  const parsed: unknown = JSON.parse(rest);
  if (!Array.isArray(parsed) || !parsed.every((part) => typeof part === 'string')) {
    throw new Error(`not an exec-form array: ${rest}`);
  }
  return parsed;
}

/**
 * KEY=value pairs of an ENV instruction (values without spaces or quotes, as ours are), with
 * `${NAME}` replaced from `args` (see stageArgs).
 */
export function envPairs(rest: string, args: Map<string, string> = new Map()): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const token of rest.split(/\s+/).filter(Boolean)) {
    const [key, value] = splitOnce(token, '=');
    pairs[key] = substitute(value ?? '', args);
  }
  return pairs;
}

/** The ARG defaults declared in a stage: the values a build without --build-arg uses. */
export function stageArgs(stage: Stage): Map<string, string> {
  const args = new Map<string, string>();
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== 'ARG') continue;
    const [key, value = ''] = splitOnce(instruction.rest, '=');
    args.set(key, value);
  }
  return args;
}

function toInstruction(text: string, line: number): Instruction {
  const [keyword = '', args = ''] = splitOnce(text, ' ');
  const flags: Record<string, string> = {};
  let rest = args.trim();
  for (
    let match = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest);
    match;
    match = /^--([a-z-]+)(?:=(\S+))?\s+/.exec(rest)
  ) {
    flags[match[1]!] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
  }
  return { keyword: keyword.toUpperCase(), args: args.trim(), flags, rest, line };
}

function substitute(value: string, args: Map<string, string>): string {
  return value.replace(
    /\$\{(\w+)\}|\$(\w+)/g,
    (_, braced: string, bare: string) => args.get(braced ?? bare) ?? '',
  );
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
}

/**
 * The build context's filter from a .dockerignore: returns whether a path (relative to the
 * context, `/`-separated) is left out. Follows moby's patternmatcher: patterns in order, the last
 * one matching the path or any of its parent directories wins, `!` re-includes, `**` spans
 * directories.
 */
export function readDockerignore(path: string): (relativePath: string) => boolean {
  const rules = readFileSync(path, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      return { negated, regex: globToRegExp(pattern) };
    });
  return (relativePath) => {
    const parts = relativePath.split('/');
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const rule of rules) {
      if (candidates.some((candidate) => rule.regex.test(candidate))) excluded = !rule.negated;
    }
    return excluded;
  };
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more directories; a trailing `**` matches everything below.
      source += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
