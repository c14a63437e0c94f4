import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Validator } from '@seriousme/openapi-schema-validator';
import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../server/http/rest/openapi';
import { REST_PREFIX, type ServedRoute, servedRoutes } from '../../server/http/rest/serve';
import { API_KEY_SCOPES } from '../../shared/auth';
import { startTestApp, type TestApp } from '../helpers/app';
import { PROCEDURES, procedureAt } from '../helpers/router-walk';

/**
 * /api/openapi.json against the official OpenAPI 3.1 schema and JSON Schema 2020-12, the
 * document against what the server serves under /api/v1 (both ways), its contract details
 * against real answers, and the basics of the REST exchange (bodies, query coercion, metrics,
 * rate limits).
 */

type Json = Record<string, unknown>;
interface Operation extends Json {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: Json[];
  requestBody?: Json;
  responses: Record<string, Json>;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** Where the whole document sits in the Ajv instance, so that its `#/components/…` refs resolve. */
const DOC_ID = 'urn:bc:openapi.json';
/** A well-formed API key that no one holds. */
const UNKNOWN_KEY = `bc_live_${'0'.repeat(40)}`;

let t: TestApp;
let text: string;
let doc: Json & { paths: Record<string, Record<string, Operation>>; components: Json };
let served: ServedRoute[];
let ajv: Ajv2020;
let errorSchema: ValidateFunction;

beforeAll(async () => {
  t = await startTestApp();
  served = servedRoutes();
  const res = await t.app.request('/api/openapi.json');
  text = await res.text();
  doc = JSON.parse(text);
  ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  addFormats(ajv);
  ajv.addSchema(structuredClone(doc), DOC_ID);
  errorSchema = ajv.compile({ $ref: `${DOC_ID}#/components/schemas/Error` });
});
afterAll(() => t?.close());

/** `GET /api/v1/x` for each operation of the document. */
function documentedOperations(): Map<string, Operation> {
  const operations = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (HTTP_METHODS.includes(method)) operations.set(`${method.toUpperCase()} ${path}`, operation);
    }
  }
  return operations;
}

const routeKey = (s: ServedRoute) => `${s.route.method} ${REST_PREFIX}${s.route.path}`;

const pointer = (...parts: string[]) =>
  `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

/** What a local `$ref` (`#` or `#/a/b`, a JSON pointer) points at in `root`; undefined if nothing. */
function at(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node = root;
  for (const part of ref.slice(2).split('/')) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

/** A response, parameter or header object through its `$ref`. */
function resolved<T = Json>(value: unknown): T {
  const ref = (value as Json | undefined)?.$ref;
  return (typeof ref === 'string' ? at(doc, ref) : value) as T;
}

/** The example's error code of a response whose body is the Error schema; undefined otherwise. */
function errorCodeOf(response: unknown): TRPC_ERROR_CODE_KEY | undefined {
  const media = resolved<{ content?: Record<string, { schema?: Json; example?: Json }> }>(response)
    ?.content?.['application/json'];
  if (media?.schema?.$ref !== '#/components/schemas/Error') return undefined;
  return (media.example as { error?: { code?: TRPC_ERROR_CODE_KEY } } | undefined)?.error?.code;
}

/** JSON pointers of every Schema Object of the document (not descending into the schemas). */
function schemaLocations(): string[] {
  const found: string[] = [];
  const components = doc.components as Record<string, Record<string, Json>>;
  for (const name of Object.keys(components.schemas ?? {}))
    found.push(pointer('components', 'schemas', name));
  const mediaTypes = (content: unknown, ...base: string[]) => {
    for (const [type, media] of Object.entries((content ?? {}) as Record<string, Json>)) {
      if (media.schema !== undefined) found.push(pointer(...base, 'content', type, 'schema'));
    }
  };
  const headers = (value: unknown, ...base: string[]) => {
    for (const [name, header] of Object.entries((value ?? {}) as Record<string, Json>)) {
      if (header.schema !== undefined) found.push(pointer(...base, name, 'schema'));
      mediaTypes(header.content, ...base, name);
    }
  };
  const response = (value: Json, ...base: string[]) => {
    headers(value.headers, ...base, 'headers');
    mediaTypes(value.content, ...base);
  };
  headers(components.headers, 'components', 'headers');
  for (const [name, value] of Object.entries(components.responses ?? {})) {
    response(value, 'components', 'responses', name);
  }
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      (op.parameters ?? []).forEach((parameter, i) => {
        const base = ['paths', path, method, 'parameters', String(i)];
        if (parameter.schema !== undefined) found.push(pointer(...base, 'schema'));
        mediaTypes(parameter.content, ...base);
      });
      if (op.requestBody) mediaTypes(op.requestBody.content, 'paths', path, method, 'requestBody');
      for (const [status, value] of Object.entries(op.responses)) {
        response(value, 'paths', path, method, 'responses', status);
      }
    }
  }
  return found;
}

/** Every `$ref` of `value`, with where it is. */
function refsOf(value: unknown, where = '#'): { where: string; ref: unknown }[] {
  if (value === null || typeof value !== 'object') return [];
  const refs: { where: string; ref: unknown }[] = [];
  for (const [key, child] of Object.entries(value)) {
    if (key === '$ref') refs.push({ where, ref: child });
    else refs.push(...refsOf(child, `${where}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`));
  }
  return refs;
}

function unresolvedRefs(document: unknown): string[] {
  return refsOf(document)
    .filter(({ ref }) => typeof ref !== 'string' || at(document, ref) === undefined)
    .map(({ where, ref }) => `${where}: ${JSON.stringify(ref)}`);
}

async function callsTotal(): Promise<Map<string, number>> {
  const metrics = await (await t.app.request('/metrics')).text();
  const series = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    if (line.startsWith('trpc_procedure_calls_total{')) {
      const space = line.lastIndexOf(' ');
      series.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
  }
  return series;
}

const series = (procedure: string, type: string, code: string) =>
  `trpc_procedure_calls_total{procedure="${procedure}",type="${type}",code="${code}"}`;

/** Calls of `procedure` between two readings, by code. */
function deltaOf(before: Map<string, number>, after: Map<string, number>, procedure: string) {
  const codes: Record<string, number> = {};
  for (const [name, value] of after) {
    const match = /procedure="([^"]*)",type="[^"]*",code="([^"]*)"/.exec(name);
    if (match?.[1] !== procedure) continue;
    const delta = value - (before.get(name) ?? 0);
    if (delta !== 0) codes[match[2] as string] = delta;
  }
  return codes;
}

function expectErrorBody(body: unknown, code: string) {
  expect(errorSchema(body), JSON.stringify(errorSchema.errors)).toBe(true);
  expect((body as { error: { code: string } }).error.code).toBe(code);
}

/** A path parameter's value for an example URL: never one of the API's static segments. */
const EXAMPLE_PARAMETER = '00000000-0000-4000-8000-00000000beef';

function exampleUrl(route: ServedRoute): string {
  return `${REST_PREFIX}${route.route.path.replace(/\{\w+\}/g, EXAMPLE_PARAMETER)}`;
}

function isPublic(procedurePath: string): boolean {
  return procedureAt(procedurePath).policy?.kind === 'public';
}

/** A served route that reads a JSON body: the body is refused before its procedure runs. */
function bodyRoute(): ServedRoute {
  const route =
    served.find((s) => s.procedurePath === 'auth.apiKeys.create') ??
    served.find((s) => s.input.rest === 'body' && s.input.schema !== null);
  if (!route) throw new Error('no POST, PATCH or PUT route is served yet');
  return route;
}

describe('the document is OpenAPI 3.1 and JSON Schema 2020-12', () => {
  it('validates against the OAI OpenAPI 3.1 schema (2022-10-07), and every $ref resolves', async () => {
    const require = createRequire(import.meta.url);
    const official = JSON.parse(
      readFileSync(require.resolve('@seriousme/openapi-schema-validator/schemas/v3.1/schema.json'), 'utf8'),
    ) as { $id: string };
    expect(official.$id).toBe('https://spec.openapis.org/oas/3.1/schema/2022-10-07');

    // Every $ref, including those inside schemas, points into the document (listed by where).
    expect.soft(unresolvedRefs(doc)).toEqual([]);

    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect.soft(result.errors, JSON.stringify(result.errors, null, 2)).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toBe('3.1.0');

    // The validator is not vacuous: a document without `info` and one with a dangling $ref fail.
    const withoutInfo = structuredClone(doc);
    delete withoutInfo.info;
    expect((await new Validator().validate(withoutInfo)).valid).toBe(false);
    const dangling = structuredClone(doc);
    const first = Object.values(dangling.paths)[0];
    if (first)
      (Object.values(first)[0] as Operation).responses['418'] = { $ref: '#/components/responses/Nope' };
    expect((await new Validator().validate(dangling)).valid).toBe(false);

    expect(unresolvedRefs(dangling)).toHaveLength(unresolvedRefs(doc).length + (first ? 1 : 0));
  });

  it('every Schema Object is valid JSON Schema 2020-12 and compiles', () => {
    const locations = schemaLocations();
    expect(locations.length).toBeGreaterThan(served.length);
    const failures: string[] = [];
    for (const location of locations) {
      const schema = at(doc, location);
      if (!ajv.validateSchema(schema as object)) {
        failures.push(`${location}: ${ajv.errorsText(ajv.errors)}`);
        continue;
      }
      try {
        ajv.compile({ $ref: `${DOC_ID}${location}` });
      } catch (error) {
        failures.push(`${location}: ${(error as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe('the document lists what the server serves, and the reverse', () => {
  it('servedRoutes(), the Hono app and the document have the same (method, path) set', () => {
    const fromTables = new Set(served.map(routeKey));
    const fromHono = new Set(
      t.app.routes
        // Wildcard entries under /api/v1 are middleware (the body limit, CORS), not routes.
        .filter((r) => r.path.startsWith(`${REST_PREFIX}/`) && r.method !== 'ALL' && !r.path.endsWith('*'))
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, '{$1}')}`),
    );
    const fromDocument = new Set(documentedOperations().keys());
    const minus = (a: Set<string>, b: Set<string>) => [...a].filter((k) => !b.has(k)).sort();

    expect(minus(fromTables, fromDocument), 'served but not in the document').toEqual([]);
    expect(minus(fromDocument, fromTables), 'in the document but not served').toEqual([]);
    expect(minus(fromHono, fromDocument), 'routed by Hono but not in the document').toEqual([]);
    expect(minus(fromDocument, fromHono), 'in the document but not routed by Hono').toEqual([]);
    expect(fromTables.size).toBeGreaterThan(0);
  });

  it('(method, path) pairs are unique', () => {
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    for (const s of served) {
      const key = routeKey(s);
      const other = seen.get(key);
      if (other) duplicates.push(`${key}: ${other} and ${s.procedurePath}`);
      seen.set(key, s.procedurePath);
    }
    expect(duplicates).toEqual([]);
  });

  it('session procedures have no route', () => {
    const routed = served.filter((s) => procedureAt(s.procedurePath).policy?.kind === 'session');
    expect(routed.map((s) => `${routeKey(s)} (${s.procedurePath})`)).toEqual([]);
  });

  it('every procedure an API key may call has exactly one route', () => {
    const count = new Map<string, number>();
    for (const op of documentedOperations().values()) {
      count.set(op.operationId, (count.get(op.operationId) ?? 0) + 1);
    }
    const wrong = PROCEDURES.filter((p) => p.policy?.kind !== 'session')
      .filter((p) => count.get(p.path) !== 1)
      .map((p) => `${p.path} (${p.policy?.kind ?? 'no policy'}): ${count.get(p.path) ?? 0} routes`);
    expect(wrong, `procedures without exactly one REST route:\n${wrong.join('\n')}`).toEqual([]);
  });

  it("each route's example URL reaches its own operation (no ambiguous paths)", async () => {
    const before = await callsTotal();
    const answers = new Map<ServedRoute, number>();
    for (const s of served) {
      const res = await t.app.request(exampleUrl(s), {
        method: s.route.method,
        headers: { 'x-api-key': UNKNOWN_KEY },
      });
      await res.arrayBuffer();
      answers.set(s, res.status);
    }
    const after = await callsTotal();
    const wrong: string[] = [];
    for (const s of served) {
      const status = answers.get(s);
      const calls = deltaOf(before, after, s.procedurePath);
      const total = Object.values(calls).reduce((a, b) => a + b, 0);
      const expected = isPublic(s.procedurePath)
        ? total === 1 && status !== 404 && status !== 405
        : status === 401 && total === 1 && calls.UNAUTHORIZED === 1;
      if (!expected) {
        wrong.push(
          `${s.route.method} ${exampleUrl(s)} (${s.procedurePath}): ${status}, calls ${JSON.stringify(calls)}`,
        );
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('contract details', () => {
  it('GET /api/openapi.json answers the same JSON bytes every time, as openApiDocument() writes it', async () => {
    const first = await t.app.request('/api/openapi.json');
    const second = await t.app.request('/api/openapi.json');
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^application\/json\b/);
    const [a, b] = [await first.text(), await second.text()];
    expect(a).toBe(text);
    expect(b).toBe(a);
    expect(JSON.parse(a)).toEqual(
      JSON.parse(JSON.stringify(openApiDocument({ version: t.deps.build.version }))),
    );
  });

  it('operationIds are unique and are the procedure paths', () => {
    const operations = documentedOperations();
    const ids = [...operations.values()].map((op) => op.operationId);
    expect(
      ids.length - new Set(ids).size,
      `duplicated: ${ids.filter((id, i) => ids.indexOf(id) !== i)}`,
    ).toBe(0);
    const byRoute = new Map(served.map((s) => [routeKey(s), s.procedurePath]));
    const wrong = [...operations]
      .filter(([key, op]) => op.operationId !== byRoute.get(key))
      .map(([key, op]) => `${key}: ${op.operationId} is not ${byRoute.get(key)}`);
    expect(wrong).toEqual([]);
  });

  it('security, required scope and path parameters follow each procedure', () => {
    const schemes = (doc.components.securitySchemes ?? {}) as Json;
    expect(Object.keys(schemes).sort()).toEqual(['apiKey', 'bearer']);
    const wrong: string[] = [];
    const byRoute = new Map(served.map((s) => [routeKey(s), s]));
    for (const [key, op] of documentedOperations()) {
      const policy = procedureAt(op.operationId).policy;
      const problem = (what: string) => wrong.push(`${key} (${op.operationId}): ${what}`);
      if (policy?.kind === 'public') {
        if (JSON.stringify(op.security) !== '[]') problem('a public operation must say security: []');
      } else {
        if (JSON.stringify(op.security) !== JSON.stringify([{ apiKey: [] }, { bearer: [] }])) {
          problem(`security is ${JSON.stringify(op.security)}`);
        }
        if (errorCodeOf(op.responses['401']) !== 'UNAUTHORIZED') problem('no 401 UNAUTHORIZED response');
        if (errorCodeOf(op.responses['403']) !== 'FORBIDDEN') problem('no 403 FORBIDDEN response');
      }
      const scope = policy?.kind === 'role' || policy?.kind === 'platform' ? policy.scope : undefined;
      if (op['x-required-scope'] !== scope)
        problem(`x-required-scope ${op['x-required-scope']}, not ${scope}`);
      // Each {name} of the path is one required path parameter, and there are no others.
      const inPath = [...(byRoute.get(key)?.route.path ?? '').matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const declared = (op.parameters ?? [])
        .map((p) => resolved(p))
        .filter((p) => p.in === 'path' && p.required === true)
        .map((p) => p.name);
      if (JSON.stringify(declared) !== JSON.stringify(inPath)) {
        problem(`path parameters ${JSON.stringify(declared)}, path has ${JSON.stringify(inPath)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('every operation has a 2xx response and 400, 429 and 503 responses of the Error schema', () => {
    const wrong: string[] = [];
    for (const [key, op] of documentedOperations()) {
      const statuses = Object.keys(op.responses);
      if (!statuses.some((s) => /^2\d\d$/.test(s))) wrong.push(`${key}: no 2xx response`);
      for (const status of ['400', '429', '503']) {
        if (!op.responses[status]) wrong.push(`${key}: no ${status} response`);
      }
      // Every error response, these and the others it declares, is an Error whose example's code
      // is one that answers that status.
      for (const status of statuses.filter((s) => !/^2\d\d$/.test(s))) {
        const code = errorCodeOf(op.responses[status]);
        if (!code) wrong.push(`${key}: ${status} is not an Error with an example`);
        else if (String(getHTTPStatusCodeFromError(new TRPCError({ code }))) !== status) {
          wrong.push(`${key}: ${status}'s example is ${code}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("the documented error examples and the server's real validation failure match the Error schema", async () => {
    const responses = doc.components.responses as Record<
      string,
      { content: Record<string, { example: unknown }> }
    >;
    const examples = Object.values(responses).map((r) => r.content['application/json']?.example);
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples) expect(errorSchema(example), JSON.stringify(example)).toBe(true);

    const res = await t.app.request(`${REST_PREFIX}/api-keys/not-a-uuid`, { headers: t.admin });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
    const body = (await res.json()) as {
      error: { code: string; message: string; requestId: string; validation: Json };
    };
    expectErrorBody(body, 'BAD_REQUEST');
    expect(body).toEqual({
      error: {
        code: 'BAD_REQUEST',
        message: expect.any(String),
        requestId: res.headers.get('x-request-id'),
        validation: { formErrors: [], fieldErrors: { id: [expect.any(String)] } },
        reason: null,
      },
    });
    // No field the document does not name: the answer has the examples' keys (traceId only when
    // the platform traces, which this app does not).
    const properties = (doc.components.schemas as Record<string, Json>).Error as {
      properties: { error: { properties: Json } };
    };
    expect(Object.keys(body.error).sort()).toEqual(
      Object.keys(properties.properties.error.properties)
        .filter((key) => key !== 'traceId')
        .sort(),
    );
  });
});

describe('REST behaviour', () => {
  async function post(body: BodyInit, contentType: string) {
    const route = bodyRoute();
    return t.app.request(exampleUrl(route), {
      method: route.route.method,
      headers: { ...t.admin, 'content-type': contentType },
      body,
    });
  }

  it('a body that is not application/json answers 415', async () => {
    const res = await post('name=x', 'text/plain');
    expect(res.status).toBe(415);
    expectErrorBody(await res.json(), 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('malformed JSON, and JSON that is not an object, answer 400', async () => {
    for (const body of ['{"name":', '[{"name":"x"}]', 'null', '"x"']) {
      const res = await post(body, 'application/json');
      expect(res.status, body).toBe(400);
      expectErrorBody(await res.json(), 'BAD_REQUEST');
    }
  });

  it('a body over BODY_LIMIT_BYTES answers 413', async () => {
    const limit = t.deps.config.BODY_LIMIT_BYTES;
    const body = JSON.stringify({ name: 'x'.repeat(limit) });
    const res = await post(body, 'application/json');
    expect(res.status).toBe(413);
    expectErrorBody(await res.json(), 'PAYLOAD_TOO_LARGE');
  });

  it('an unknown /api/v1 path answers 404 with the platform error body', async () => {
    const res = await t.app.request(`${REST_PREFIX}/no-such-route`, { headers: t.admin });
    expect(res.status).toBe(404);
    expectErrorBody(await res.json(), 'NOT_FOUND');
  });

  it('query parameters are coerced to the types of the input (limit=1), and refused when they are not', async () => {
    const list =
      served.find((s) => s.procedurePath === 'auth.apiKeys.list') ??
      served.find((s) => {
        const limit = s.input.schema?.properties?.limit;
        return s.route.method === 'GET' && s.input.pathParameters.length === 0 && limit?.type === 'integer';
      });
    if (!list) throw new Error('no GET route with a limit query parameter is served yet');
    const url = exampleUrl(list);

    const res = await t.app.request(`${url}?limit=1`, { headers: t.admin });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json\b/);
    const page = (await res.json()) as Json;
    const arrays = Object.values(page).filter(Array.isArray);
    expect(arrays.length, JSON.stringify(page)).toBeGreaterThan(0);
    for (const items of arrays) expect(items.length).toBeLessThanOrEqual(1);

    const refused = await t.app.request(`${url}?limit=abc`, { headers: t.admin });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { validation: { fieldErrors: Json } } };
    expectErrorBody(body, 'BAD_REQUEST');
    expect(Object.keys(body.error.validation.fieldErrors)).toEqual(['limit']);
  });

  it('REST calls count in the same procedure metrics as tRPC calls', async () => {
    const ok = series('auth.me', 'query', 'OK');
    const before = await callsTotal();
    const rest = await t.app.request(`${REST_PREFIX}/me`, { headers: t.admin });
    expect(rest.status).toBe(200);
    expect(await rest.json()).toMatchObject({ kind: 'apiKey', userId: t.adminUser.id });
    const afterRest = await callsTotal();
    expect((afterRest.get(ok) ?? 0) - (before.get(ok) ?? 0)).toBe(1);

    const trpc = await t.app.request('/api/trpc/auth.me', { headers: t.admin });
    expect(trpc.status).toBe(200);
    const afterTrpc = await callsTotal();
    expect((afterTrpc.get(ok) ?? 0) - (afterRest.get(ok) ?? 0)).toBe(1);
  });

  it("a call refused by the key's own rate limit answers 429 with Retry-After", async () => {
    const created = await t.app.request('/api/trpc/auth.apiKeys.create', {
      method: 'POST',
      headers: { ...t.admin, 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'openapi burst',
        scopes: [...API_KEY_SCOPES],
        rateLimits: [{ name: 'burst', limit: 1, periodMs: 60_000 }],
      }),
    });
    expect(created.status, await created.clone().text()).toBe(200);
    const { key } = ((await created.json()) as { result: { data: { key: string } } }).result.data;

    const first = await t.app.request(`${REST_PREFIX}/me`, { headers: { 'x-api-key': key } });
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit')).toBeTruthy();
    const second = await t.app.request(`${REST_PREFIX}/me`, { headers: { 'x-api-key': key } });
    expect(second.status).toBe(429);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expectErrorBody(await second.json(), 'TOO_MANY_REQUESTS');
  });
});
