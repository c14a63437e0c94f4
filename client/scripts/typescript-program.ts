import { dirname, join } from 'node:path';
import { getLibFiles, ts } from '@ts-morph/common';

export { ts };

/** Where the lib files bundled with @ts-morph/common appear to live (they are served from memory). */
const LIB_DIR = '/__typescript_lib__';

/**
 * A TypeScript program over `rootNames` with the options of `tsconfigPath`, for declaration emit.
 *
 * The compiler is the JavaScript TypeScript that @ts-morph/common bundles (6.x): the project's own
 * `tsc` is the native TypeScript 7, which type-checks but offers no stable compiler API yet, and a
 * second `typescript` package would take over the `tsc` binary. That bundle ships its lib files as
 * strings, so the host serves them from memory.
 */
export function createProgram(tsconfigPath: string, rootNames: string[]): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(
    tsconfigPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic(diagnostic) {
        throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
      },
    },
  );
  if (!config) throw new Error(`cannot read ${tsconfigPath}`);
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    // Nothing is written by the compiler itself: emit goes through a writeFile callback.
    outDir: join(dirname(tsconfigPath), '.declarations'),
  };
  const libs = new Map(getLibFiles().map((lib) => [join(LIB_DIR, lib.fileName), lib.text]));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getDefaultLibLocation = () => LIB_DIR;
  host.getDefaultLibFileName = (opts) => join(LIB_DIR, ts.getDefaultLibFileName(opts));
  host.fileExists = (fileName) => libs.has(fileName) || fileExists(fileName);
  host.readFile = (fileName) => libs.get(fileName) ?? readFile(fileName);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const lib = libs.get(fileName);
    return lib !== undefined
      ? ts.createSourceFile(fileName, lib, languageVersion)
      : getSourceFile(fileName, languageVersion, onError, shouldCreate);
  };
  return ts.createProgram({ rootNames, options, host });
}

/** Diagnostics of `files` as readable lines (file:line:col message). */
export function describeDiagnostics(diagnostics: readonly ts.Diagnostic[]): string[] {
  return diagnostics.map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!diagnostic.file || diagnostic.start === undefined) return message;
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return `${diagnostic.file.fileName}:${line + 1}:${character + 1} ${message}`;
  });
}
