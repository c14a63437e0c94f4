import { describe, expect, it } from 'vitest';
import { check, findingsOf, layerOf } from '../../scripts/check-imports';

describe('the import rule (scripts/check-imports.ts)', () => {
  it('holds for the whole repository: no import runs up a layer', () => {
    expect(check().map((f) => `${f.file}:${f.line}: ${f.why}`)).toEqual([]);
  });

  it('places each folder in its layer', () => {
    expect(layerOf('shared/auth.ts')).toBe('shared');
    expect(layerOf('db/repositories/users.ts')).toBe('db');
    expect(layerOf('server/base/logger.ts')).toBe('base');
    expect(layerOf('server/services/auth/users.ts')).toBe('services');
    expect(layerOf('server/operations/health.ts')).toBe('operations');
    expect(layerOf('server/http/app.ts')).toBe('http');
    expect(layerOf('server/composition/dependencies.ts')).toBe('composition');
    expect(layerOf('server/main.ts')).toBe('composition');
  });

  it('finds an upward import, value or type', () => {
    const base = findingsOf('server/base/audit.ts', "import { users } from '../services/auth/users';\n");
    expect(base).toMatchObject([{ line: 1, why: 'base imports from services, a layer above it' }]);
    const db = findingsOf(
      'db/repositories/x.ts',
      "\n\nimport type { AppDeps } from '../../server/http/deps';",
    );
    expect(db).toMatchObject([{ line: 3, why: 'db imports from http, a layer above it' }]);
    const dynamic = findingsOf(
      'server/services/cache/x.ts',
      "const m = await import('../../composition/serve');",
    );
    expect(dynamic).toHaveLength(1);
  });

  it("lets a service use another service's types, never its code", () => {
    const typeOnly = "import type { UserService } from '../auth/users';";
    expect(findingsOf('server/services/backups/x.ts', typeOnly)).toEqual([]);
    const value = "import { UserService } from '../auth/users';";
    expect(findingsOf('server/services/backups/x.ts', value)).toMatchObject([
      { why: "service backups imports service auth's code (types only: it is handed the service)" },
    ]);
    expect(findingsOf('server/services/auth/x.ts', "import { hash } from './passwords';")).toEqual([]);
  });

  it('lets the client import shared/ and only the type of the router', () => {
    expect(findingsOf('client/types.ts', "import type { AppRouter } from '../server/http/routers';")).toEqual(
      [],
    );
    expect(findingsOf('client/x.ts', "import { appRouter } from '../server/http/routers';")).toHaveLength(1);
    expect(findingsOf('client/x.ts', "import { untilAborted } from '../shared/abortable';")).toEqual([]);
  });

  it('allows downward imports', () => {
    const text = [
      "import { z } from 'zod';",
      "import { PlatformDatabase } from '../../db/connect';",
      "import { Logger } from '../base/logger';",
      "import { buildHealthReport } from '../operations/health';",
      "import { UserService } from '../services/auth/users';",
    ].join('\n');
    expect(findingsOf('server/http/x.ts', text)).toEqual([]);
  });
});
