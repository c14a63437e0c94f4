import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { z } from 'zod';
import { ERROR_REASONS } from '../../../shared/errors';
import { appRouter } from '../routers/index';
import type { Meta } from '../trpc';
import { type JsonSchema, jsonSchemaOf, objectPropertiesOf } from './input-layout';
import { policyText } from './policy-text';
import type { Refusal } from './route';
import { REST_PREFIX, type ServedRoute, servedRoutes } from './serve';

/**
 * The OpenAPI 3.1 document of the REST API, written from what the server serves: the routes
 * tables (method, path, summary, output schema), each procedure's zod input and its policy. No
 * second copy: a route the server serves is in the document and the reverse
 * (tests/integration/openapi.test.ts), and the partner conformance run (tests/conformance/)
 * checks answers against it.
 */
export function openApiDocument(info: { version: string }): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = { Error: ERROR_SCHEMA };
  for (const served of servedRoutes()) {
    const path = `${REST_PREFIX}${served.route.path}`;
    paths[path] ??= {};
    paths[path][served.route.method.toLowerCase()] = operationOf(served, schemas);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Beauty Crafter Platform API',
      version: info.version,
      description:
        'Plain REST routes for every procedure an API key may call: the same procedures, policies, ' +
        'rate limits and metrics as the tRPC API. Authenticate with `X-API-Key: bc_…` or ' +
        '`Authorization: Bearer <access token>`. Errors answer `{ "error": { "code", "message", ' +
        '"requestId", "validation" } }`; `code` is stable, switch on it.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: TAGS,
    paths,
    components: {
      securitySchemes: {
        apiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'X-API-Key',
          description:
            'An API key (`bc_live_…` or `bc_test_…`); it acts within its scopes and its owner’s role.',
        },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'An access token from `POST /api/v1/auth/login` or `/auth/refresh`.',
        },
      },
      schemas,
      headers: RATE_LIMIT_HEADERS,
      responses: ERROR_RESPONSES,
    },
  };
}

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: Record<string, unknown>;
}

/** The reference groups operations by the first segment of their procedure's path. */
const TAGS = [
  { name: 'system', description: 'Health, build information, status, self-test, annotations.' },
  { name: 'auth', description: 'Who you are, users, API keys, organizations, invitations, the audit log.' },
  { name: 'performance', description: 'Traffic figures, queries, cache, bottlenecks, capacity, alerts.' },
  { name: 'devops', description: 'Instance, maintenance, environments, deployments, backups.' },
];

function operationOf(
  { procedurePath, route, procedure, input }: ServedRoute,
  components: Record<string, unknown>,
): Record<string, unknown> {
  const meta = (procedure as unknown as { _def: { meta?: Meta } })._def.meta;
  const policy = meta?.policy;
  const open = policy?.kind === 'public';
  const scope = policy?.kind === 'role' || policy?.kind === 'platform' ? policy.scope : undefined;
  const inputSchema = input.schema && hoisted(input.schema, `${procedurePath}.input`, components);
  const fields = inputSchema ? objectPropertiesOf(inputSchema) : {};
  const required = new Set(inputSchema?.required ?? []);

  const parameters: unknown[] = input.pathParameters.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: fields[name],
  }));
  let requestBody: unknown;
  const others = Object.entries(fields).filter(([name]) => !input.pathParameters.includes(name));
  if (input.rest === 'query') {
    for (const [name, schema] of others) parameters.push(queryParameter(name, schema, required.has(name)));
  } else if (others.length > 0) {
    requestBody = {
      required: others.some(([name]) => required.has(name)),
      content: {
        'application/json': { schema: withoutFields(inputSchema as JsonSchema, input.pathParameters) },
      },
    };
  }

  const success = route.status ?? 200;
  const output = hoisted(jsonSchemaOf(route.output, 'output'), `${procedurePath}.output`, components);
  const responses: Record<string, unknown> = {
    [success]: isNothing(route.output)
      ? { description: 'Done; no content.' }
      : {
          description: 'Success.',
          headers: { RateLimit: { $ref: '#/components/headers/RateLimit' } },
          content: { 'application/json': { schema: output } },
        },
    '400': { $ref: '#/components/responses/BAD_REQUEST' },
  };
  const refusals = new Set<Refusal>(route.refusals);
  if (!open) refusals.add('UNAUTHORIZED').add('FORBIDDEN');
  if (input.pathParameters.length > 0) refusals.add('NOT_FOUND');
  if (route.method !== 'GET') refusals.add('CONFLICT');
  if (input.rest === 'body') refusals.add('PAYLOAD_TOO_LARGE').add('UNSUPPORTED_MEDIA_TYPE');
  for (const [refusal, status] of Object.entries(REFUSALS)) {
    if (refusals.has(refusal as Refusal)) responses[status] = { $ref: `#/components/responses/${refusal}` };
  }
  responses['429'] = { $ref: '#/components/responses/TooManyRequests' };
  responses['503'] = { $ref: '#/components/responses/Unavailable' };

  return {
    operationId: procedurePath,
    summary: route.summary,
    description: [
      route.description,
      `**Who may call it:** ${policyText(policy)} (${meta?.scope ?? 'MISSING'} scope).`,
      `tRPC: \`${procedurePath}\` (${procedure._def.type}).`,
    ]
      .filter(Boolean)
      .join('\n\n'),
    tags: [procedurePath.split('.')[0]],
    security: open ? [] : [{ apiKey: [] }, { bearer: [] }],
    ...(scope ? { 'x-required-scope': scope } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody ? { requestBody } : {}),
    responses,
  };
}

/**
 * A query parameter. Scalars and arrays of scalars travel as plain values (`?status=a&status=b`);
 * an object field as JSON text, which OpenAPI says with `content` instead of `schema`.
 */
function queryParameter(name: string, schema: JsonSchema, required: boolean): Record<string, unknown> {
  const isObject = schema.type === 'object' || (schema.anyOf ?? []).some((s) => s.type === 'object');
  return isObject
    ? { name, in: 'query', required, content: { 'application/json': { schema } } }
    : {
        name,
        in: 'query',
        required,
        schema,
        ...(schema.type === 'array' ? { style: 'form', explode: true } : {}),
      };
}

/**
 * `schema` with the definitions zod wrote beside it (`$defs`, for a recursive type such as a JSON
 * value) moved to the document's components, named after the operation: in OpenAPI a `#/…`
 * reference counts from the document's root, so a `#/$defs/…` left inside an operation would
 * point nowhere (and slicing the schema into parameters would drop it).
 */
function hoisted(schema: JsonSchema, prefix: string, components: Record<string, unknown>): JsonSchema {
  const { $defs, ...rest } = schema as JsonSchema & { $defs?: Record<string, unknown> };
  if (!$defs) return schema;
  const local = '#/$defs/';
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) =>
        key === '$ref' && typeof value === 'string' && value.startsWith(local)
          ? [key, `#/components/schemas/${prefix}.${value.slice(local.length)}`]
          : [key, rewrite(value)],
      ),
    );
  };
  for (const [name, definition] of Object.entries($defs))
    components[`${prefix}.${name}`] = rewrite(definition);
  return rewrite(rest) as JsonSchema;
}

/** The body's schema: the input without the fields the path carries. */
function withoutFields(schema: JsonSchema, names: string[]): JsonSchema {
  if (names.length === 0) return schema;
  const properties = { ...objectPropertiesOf(schema) };
  for (const name of names) delete properties[name];
  const required = (schema.required ?? []).filter((name) => !names.includes(name));
  return {
    type: 'object',
    properties,
    ...(required.length > 0 ? { required } : {}),
    ...(schema.additionalProperties === false ? { additionalProperties: false } : {}),
  };
}

/** A route that answers nothing (204). */
function isNothing(schema: z.ZodType): boolean {
  return schema instanceof z.ZodVoid || schema instanceof z.ZodUndefined;
}

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'requestId'],
      properties: {
        code: {
          type: 'string',
          enum: Object.keys(TRPC_ERROR_CODES_BY_KEY),
          description: 'Stable: switch on it.',
        },
        message: { type: 'string', description: 'For people; may change between versions.' },
        requestId: { type: 'string', description: 'Quote it when asking for help; it is in the logs.' },
        traceId: {
          type: 'string',
          pattern: '^[0-9a-f]{32}$',
          description: 'The W3C trace id of the request, when the platform traces: find the trace with it.',
        },
        reason: {
          description: 'Stable: a finer reason for some refusals (SECOND_FACTOR_REQUIRED), else null.',
          anyOf: [{ type: 'string', enum: [...ERROR_REASONS] }, { type: 'null' }],
        },
        validation: {
          description: 'Which input fields were refused and why (BAD_REQUEST of a validation), else null.',
          anyOf: [
            {
              type: 'object',
              required: ['formErrors', 'fieldErrors'],
              properties: {
                formErrors: { type: 'array', items: { type: 'string' } },
                fieldErrors: {
                  type: 'object',
                  additionalProperties: { type: 'array', items: { type: 'string' } },
                },
              },
            },
            { type: 'null' },
          ],
        },
      },
    },
  },
};

const RATE_LIMIT_HEADERS = {
  RateLimit: {
    description:
      'The most constraining limit of the request (IETF RateLimit headers draft): `"<policy>";r=<remaining>;t=<seconds until more>`. ' +
      'Sent when a limit applied to the call: an API key with limits of its own, a signed-in user, an anonymous caller.',
    schema: { type: 'string' },
    example: '"api-key";r=99;t=1',
  },
  'RateLimit-Policy': {
    description: 'The limit itself: `"<policy>";q=<quota>;w=<window seconds>`.',
    schema: { type: 'string' },
    example: '"ip";q=100;w=1',
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again.',
    schema: { type: 'integer', minimum: 1 },
    example: 1,
  },
};

function errorResponse(description: string, code: string, message: string, headers?: string[]) {
  return {
    description,
    ...(headers
      ? {
          headers: Object.fromEntries(
            headers.map((name) => [name, { $ref: `#/components/headers/${name}` }]),
          ),
        }
      : {}),
    content: {
      'application/json': {
        schema: { $ref: '#/components/schemas/Error' },
        example: {
          error: { code, message, requestId: 'b3c1e0d2-6f1a-4c3e-9a53-2f0c6d1e7a90', validation: null },
        },
      },
    },
  };
}

/** The refusals a route may declare, in the order of their statuses. */
const REFUSALS: Record<Refusal, string> = {
  UNAUTHORIZED: '401',
  FORBIDDEN: '403',
  NOT_FOUND: '404',
  CONFLICT: '409',
  PRECONDITION_FAILED: '412',
  PAYLOAD_TOO_LARGE: '413',
  UNSUPPORTED_MEDIA_TYPE: '415',
  GATEWAY_TIMEOUT: '504',
};

const ERROR_RESPONSES = {
  BAD_REQUEST: errorResponse(
    'The input was refused; `validation` says which fields and why.',
    'BAD_REQUEST',
    'invalid input: limit: Too big: expected number to be <=100',
  ),
  UNAUTHORIZED: errorResponse(
    'No credential, or one that is not valid.',
    'UNAUTHORIZED',
    'this procedure needs an access token or an API key',
  ),
  FORBIDDEN: errorResponse(
    'The caller’s role, platform role or key scopes do not allow this.',
    'FORBIDDEN',
    'this procedure needs the admin role or above',
  ),
  NOT_FOUND: errorResponse(
    'No such resource in the caller’s organization (another organization’s ids answer the same).',
    'NOT_FOUND',
    'api key not found',
  ),
  CONFLICT: errorResponse(
    'The change conflicts with the current state (a name or email already taken, the last admin, a step already done).',
    'CONFLICT',
    'an organization with this name already exists',
  ),
  PAYLOAD_TOO_LARGE: errorResponse(
    'The body is over the platform’s limit (BODY_LIMIT_BYTES).',
    'PAYLOAD_TOO_LARGE',
    'request bodies are limited to 1048576 bytes',
  ),
  UNSUPPORTED_MEDIA_TYPE: errorResponse(
    'A body that is not application/json.',
    'UNSUPPORTED_MEDIA_TYPE',
    'the body must be application/json',
  ),
  GATEWAY_TIMEOUT: errorResponse(
    'Something the platform waited on (PostgreSQL planning a query, a provider) took too long.',
    'GATEWAY_TIMEOUT',
    'the plan took longer than 2 s',
  ),
  PRECONDITION_FAILED: errorResponse(
    'A condition the change needs does not hold (e.g. the state it expected has moved on).',
    'PRECONDITION_FAILED',
    'the deployment is not awaiting approval',
  ),
  TooManyRequests: errorResponse(
    'A rate limit refused the call; wait Retry-After seconds.',
    'TOO_MANY_REQUESTS',
    'too many requests; retry in 1 s',
    ['RateLimit', 'RateLimit-Policy', 'Retry-After'],
  ),
  Unavailable: errorResponse(
    'Maintenance, a database that is down, or a full pool; wait Retry-After seconds.',
    'SERVICE_UNAVAILABLE',
    'the database is unavailable, retry later',
    ['Retry-After'],
  ),
};

/** Procedures of the router that have no REST route, with why (for the test and the docs). */
export function proceduresWithoutRoute(): string[] {
  const routed = new Set(servedRoutes().map((served) => served.procedurePath));
  return Object.keys(appRouter._def.procedures).filter((path) => !routed.has(path));
}
